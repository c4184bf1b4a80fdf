/* The upload page (ingest/web/upload.py): hash each file in the browser, ask the server whether it
   already has it and from which byte to go on, send it in chunks, then follow its import.
   What is not finished is remembered in localStorage, so a reopened page says which files to
   choose again; the server's offset makes the resumed upload start where it stopped. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var filesUrl = form.dataset.filesUrl, chunkSize = parseInt(form.dataset.chunk, 10) || 4194304;
  var token = (document.querySelector("meta[name=gallery-csrftoken]") || {}).content || "";
  var list = document.getElementById("upload-list"), status = document.getElementById("upload-status");
  var overall = document.getElementById("upload-progress"), resume = document.getElementById("upload-resume");
  var demo = document.getElementById("upload-demo"), newDemo = document.getElementById("upload-new-demo");
  var STORE = "gallery-uploads-pending";
  var batch = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  var items = [], running = 0, PARALLEL = 2, totals = {done: 0, failed: 0, skipped: 0};
  var IMAGE = /\.(jpe?g|jpe|png|tiff?|webp|heic|heif|hif|avif|jxl|dng|cr2|cr3|nef|arw|rw2|orf|raf|pef)$/i;

  function pending() { try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; } }
  function remember(sha, entry) {
    var all = pending();
    if (entry) all[sha] = entry; else delete all[sha];
    try { localStorage.setItem(STORE, JSON.stringify(all)); } catch (e) { /* private mode: no resume hint */ }
  }
  function showPending() {
    var here = {}, all = pending();
    items.forEach(function (i) { if (i.sha) here[i.sha] = true; });
    var names = Object.keys(all).filter(function (k) { return !here[k]; }).map(function (k) { return all[k].name; });
    resume.hidden = !names.length;
    resume.textContent = names.length ? names.length + " file" + (names.length > 1 ? "s" : "") +
      " from an earlier visit did not finish (" + names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "") +
      "). Choose or drop them again: they go on from where they stopped." : "";
  }

  function defaults() {
    var d = {licence: form.licence.value, creator: form.creator.value.trim()};
    if (demo.value === "__new__") { d.demo = newDemo.value.trim(); d.new_demo = true; }
    else if (demo.value) d.demo = demo.value;
    return d;
  }

  function request(method, url, body, type) {
    var headers = {"x-csrftoken": token, "Accept": "application/json"};
    if (type) headers["Content-Type"] = type;
    return fetch(url, {method: method, headers: headers, body: body, credentials: "same-origin"}).then(function (r) {
      return r.json().catch(function () { return {error: "the server answered " + r.status}; })
        .then(function (data) { data.httpStatus = r.status; return data; });
    });
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sha256(file) {
    if (!(window.crypto && crypto.subtle)) return window.gallerySha256(file);  // http on a LAN address: sha256.js
    return file.arrayBuffer().then(function (buf) { return crypto.subtle.digest("SHA-256", buf); }).then(hex);
  }

  function row(item) {
    var li = document.createElement("li"), name = document.createElement("span"), bar = document.createElement("progress"),
        words = document.createElement("span");
    name.className = "gallery-upload-name"; name.textContent = item.name;
    bar.max = item.file.size || 1; bar.value = 0; bar.setAttribute("aria-label", item.name);
    words.className = "gallery-upload-state"; words.textContent = "waiting";
    li.append(name, bar, words); list.appendChild(li);
    item.li = li; item.bar = bar; item.words = words;
  }
  function say(item, text, kind) {
    item.words.textContent = text;
    if (kind) item.li.dataset.state = kind;
  }

  function update() {
    var size = 0, sent = 0;
    items.forEach(function (i) { size += i.file.size; sent += i.sent; });
    overall.max = size || 1; overall.value = sent;
    var left = items.length - totals.done - totals.failed - totals.skipped;
    status.textContent = items.length ? (totals.done + " sent, " + totals.skipped + " already in the archive, " +
      totals.failed + " failed" + (left ? ", " + left + " to go" : ". Done: see My photos for each one's state.")) : "Nothing chosen yet.";
  }

  function fail(item, message) {
    item.state = "failed"; totals.failed++;
    say(item, message, "failed"); update();
  }

  function sendFrom(item, offset) {
    item.sent = offset; item.bar.value = offset; update();
    if (offset >= item.file.size) return finish(item);
    var end = Math.min(offset + chunkSize, item.file.size);
    say(item, "sending " + Math.round(100 * offset / item.file.size) + "%", "sending");
    return request("PUT", filesUrl + "/" + item.id + "?offset=" + offset, item.file.slice(offset, end),
                   "application/octet-stream").then(function (answer) {
      if (answer.httpStatus === 200) return sendFrom(item, answer.offset);
      if (answer.httpStatus === 409 && typeof answer.offset === "number") return sendFrom(item, answer.offset);
      throw new Error(answer.error || "not sent");
    });
  }

  function finish(item) {
    say(item, "checking", "checking");
    return request("POST", filesUrl + "/" + item.id + "/finish", "{}", "application/json").then(function (answer) {
      if (answer.httpStatus === 409 && typeof answer.offset === "number") return sendFrom(item, answer.offset);
      if (answer.httpStatus >= 400) throw new Error(answer.error || "not accepted");
      return follow(item, answer);
    });
  }

  function follow(item, answer) {
    if (answer.state === "imported") {
      remember(item.sha, null); item.state = "done"; totals.done++;
      say(item, "received: waiting for review", "done"); update(); return;
    }
    if (answer.state === "duplicate") {
      remember(item.sha, null); item.state = "skipped"; totals.skipped++; item.sent = item.file.size; item.bar.value = item.bar.max;
      say(item, answer.yours ? "you sent it before: not sent again (see My photos)"
                             : "already in the archive: not sent again", "skipped"); update(); return;
    }
    if (answer.state === "problem") {
      remember(item.sha, null);
      fail(item, item.name + ": " + (answer.problem || "not imported")); return;
    }
    say(item, "received: importing…", "importing");
    return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () {
      return request("GET", filesUrl + "/" + item.id);
    }).then(function (next) {
      if (next.httpStatus >= 400) throw new Error(next.error || "lost");
      return follow(item, next);
    });
  }

  function start(item) {
    say(item, "hashing", "hashing");
    return sha256(item.file).then(function (sha) {
      item.sha = sha;
      return request("POST", filesUrl, JSON.stringify({name: item.name, size: item.file.size, sha256: sha,
                                                       batch: batch, defaults: defaults()}), "application/json");
    }).then(function (answer) {
      if (answer.httpStatus >= 400) throw new Error(answer.error || "refused");
      if (answer.state === "duplicate") return follow(item, answer);
      item.id = answer.id;
      remember(item.sha, {name: item.name, size: item.file.size, id: answer.id});
      if (answer.state === "receiving") return sendFrom(item, answer.offset || 0);
      item.sent = item.file.size;
      return follow(item, answer);
    }).catch(function (e) {
      var lost = e instanceof TypeError;  // fetch's own failure: no answer at all
      fail(item, item.name + ": " + (lost ? "the connection was lost; choose the file again to go on from where it stopped"
                                          : (e.message || e)));
    });
  }

  function pump() {
    while (running < PARALLEL) {
      var next = items.find(function (i) { return i.state === "new"; });
      if (!next) break;
      next.state = "busy"; running++;
      start(next).then(function () { running--; showPending(); pump(); });
    }
    update();
  }

  function add(files) {
    if (demo.value === "__new__" && !newDemo.value.trim()) {
      status.textContent = "Name the new demonstration first (or choose one).";
      newDemo.focus(); return;
    }
    Array.prototype.forEach.call(files, function (file) {
      var name = file.webkitRelativePath || file.relativePath || file.name;
      var base = name.split("/").pop();
      if (base.charAt(0) === "." || (!IMAGE.test(base) && !/^image\//.test(file.type))) return;  // hidden files, notes, videos
      var item = {file: file, name: name, state: "new", sent: 0};
      items.push(item); row(item);
    });
    pump();
  }

  // Dropped folders: walk their entries (Chromium, Firefox and Safari all offer webkitGetAsEntry).
  function walk(entry, path) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (f) { f.relativePath = path + f.name; resolve([f]); }, function () { resolve([]); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader(), found = [];
        (function more() {
          reader.readEntries(function (entries) {
            if (!entries.length) {
              Promise.all(found).then(function (lists) { resolve([].concat.apply([], lists)); });
              return;
            }
            entries.forEach(function (e) { found.push(walk(e, path + entry.name + "/")); });
            more();
          }, function () { resolve([]); });
        })();
      } else resolve([]);
    });
  }

  var drop = document.getElementById("upload-drop");
  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("gallery-upload-over"); });
  });
  drop.addEventListener("dragleave", function () { drop.classList.remove("gallery-upload-over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault(); drop.classList.remove("gallery-upload-over");
    var entries = Array.prototype.map.call(e.dataTransfer.items || [], function (i) {
      return i.webkitGetAsEntry ? i.webkitGetAsEntry() : null; }).filter(Boolean);
    if (!entries.length) { add(e.dataTransfer.files); return; }
    Promise.all(entries.map(function (en) { return walk(en, ""); })).then(function (lists) {
      add([].concat.apply([], lists));
    });
  });
  ["upload-files", "upload-folder"].forEach(function (id) {
    var input = document.getElementById(id);
    input.addEventListener("change", function () { var chosen = Array.prototype.slice.call(input.files); input.value = ""; add(chosen); });
  });
  demo.addEventListener("change", function () { if (demo.value === "__new__") newDemo.focus(); });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  showPending();
})();

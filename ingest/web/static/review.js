// The review queue's keyboard and in-place decisions (ingest/web/review.py). Without this file the
// page still works: checkboxes and buttons post the form.
(function () {
  "use strict";
  var form = document.querySelector(".gallery-review-form");
  if (!form) { return; }
  var status = document.querySelector(".gallery-review-status");
  var current = null;

  function cards() { return Array.prototype.slice.call(form.querySelectorAll(".gallery-review-card")); }
  function focusCard(card) {
    if (!card) { return; }
    cards().forEach(function (c) { c.classList.remove("current"); c.setAttribute("tabindex", "-1"); });
    card.classList.add("current");
    card.setAttribute("tabindex", "0");
    card.focus();
    current = card;
  }
  function move(step) {
    var all = cards();
    var at = all.indexOf(current);
    focusCard(all[Math.max(0, Math.min(all.length - 1, at + step))] || all[0]);
  }
  function chosen() {
    var picked = cards().filter(function (c) { return c.querySelector("input[type=checkbox]").checked; });
    return picked.length ? picked : (current ? [current] : []);
  }
  function say(text) { if (status) { status.textContent = text; } }

  function decide(decision, targets) {
    if (!targets.length) { say("Choose a photo first."); return; }
    var body = new URLSearchParams();
    body.append("csrftoken", form.querySelector("input[name=csrftoken]").value);
    body.append("decision", decision);
    targets.forEach(function (c) { body.append("photo", c.getAttribute("data-id")); });
    var token = form.querySelector("input[name=csrftoken]").value;
    fetch(form.getAttribute("action"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: {"Accept": "application/json", "x-csrftoken": token}
    }).then(function (r) { return r.json(); }).then(function (answer) {
      if (!answer.ok) { say(answer.error || "Nothing was saved."); return; }
      var all = cards();
      var after = all[all.indexOf(targets[targets.length - 1]) + 1] || null;
      targets.forEach(function (c) { c.remove(); });
      Object.keys(answer.counts).forEach(function (key) {
        document.querySelectorAll('[data-count="' + key + '"]').forEach(function (el) { el.textContent = answer.counts[key]; });
      });
      say(answer.message);
      var left = cards();
      if (!left.length) {
        window.location.reload();  // the next page of the queue, or "nothing to review"
        return;
      }
      focusCard(after && after.isConnected ? after : left[left.length - 1]);
    }).catch(function () { say("Nothing was saved: the server did not answer. Try again."); });
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.value) { return; }
    event.preventDefault();
    decide(button.value, chosen());
  });
  form.addEventListener("click", function (event) {
    var card = event.target.closest(".gallery-review-card");
    if (card) { current = card; cards().forEach(function (c) { c.classList.toggle("current", c === card); }); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || tag === "select" || (tag === "input" && event.target.type !== "checkbox")) { return; }
    var key = event.key;
    if (key === "j" || key === "ArrowRight") { move(current ? 1 : 0); }
    else if (key === "k" || key === "ArrowLeft") { move(current ? -1 : 0); }
    else if (key === "a") { decide("approve", chosen()); }
    else if (key === "w") { decide("withhold", chosen()); }
    else if (key === "r") { decide("looks-right", chosen()); }
    else if (key === "x" && current) {
      var box = current.querySelector("input[type=checkbox]");
      box.checked = !box.checked;
    }
    else if (key === "Enter" && current && event.target === current) {
      window.location.href = current.querySelector(".gallery-review-fix").getAttribute("href");
    }
    else { return; }
    event.preventDefault();
  });
  focusCard(cards()[0]);
})();

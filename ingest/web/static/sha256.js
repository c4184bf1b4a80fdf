/* SHA-256 of a File in plain JavaScript, a slice at a time, for pages that are not a secure context
   (a group's server on a LAN address over http: browsers give crypto.subtle only to https and
   localhost). upload.js prefers crypto.subtle; this keeps a phone on the venue's Wi-Fi uploading,
   and with a bounded memory, whatever the file's size. */
(function () {
  "use strict";
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var SLICE = 4 * 1024 * 1024;  // a multiple of the 64-byte block

  function Hash() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Uint32Array(64);
    this.length = 0;
  }
  Hash.prototype.blocks = function (bytes, end) {  // bytes: whole 64-byte blocks up to end
    var h = this.h, w = this.w, a, b, c, d, e, f, g, hh, i, j, t1, t2, s0, s1;
    for (j = 0; j < end; j += 64) {
      for (i = 0; i < 16; i++) {
        w[i] = (bytes[j + 4 * i] << 24) | (bytes[j + 4 * i + 1] << 16) | (bytes[j + 4 * i + 2] << 8) | bytes[j + 4 * i + 3];
      }
      for (i = 16; i < 64; i++) {
        s0 = ((w[i - 15] >>> 7) | (w[i - 15] << 25)) ^ ((w[i - 15] >>> 18) | (w[i - 15] << 14)) ^ (w[i - 15] >>> 3);
        s1 = ((w[i - 2] >>> 17) | (w[i - 2] << 15)) ^ ((w[i - 2] >>> 19) | (w[i - 2] << 13)) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
      for (i = 0; i < 64; i++) {
        s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        t1 = (hh + s1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
  };
  Hash.prototype.finish = function (rest) {  // rest: the last, partial block's bytes
    var bits = this.length * 8, size = rest.length < 56 ? 64 : 128, tail = new Uint8Array(size), i, out = "";
    tail.set(rest); tail[rest.length] = 0x80;
    for (i = 0; i < 8; i++) tail[size - 1 - i] = Math.floor(bits / Math.pow(2, 8 * i)) & 0xff;
    this.blocks(tail, size);
    for (i = 0; i < 8; i++) out += ("00000000" + (this.h[i] >>> 0).toString(16)).slice(-8);
    return out;
  };

  window.gallerySha256 = function (file) {
    var hash = new Hash(), offset = 0;
    function next() {
      var slice = file.slice(offset, offset + SLICE);
      return slice.arrayBuffer().then(function (buffer) {
        var bytes = new Uint8Array(buffer), whole = bytes.length - (bytes.length % 64);
        hash.length += bytes.length; offset += bytes.length;
        if (offset < file.size) { hash.blocks(bytes, bytes.length); return next(); }
        hash.blocks(bytes, whole);
        return hash.finish(bytes.subarray(whole));
      });
    }
    return next();
  };
})();

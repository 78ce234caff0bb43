/* Give back the browser's own String.prototype.trim (and trimStart/trimEnd),
   parseFloat/parseInt and Math.sinh, which Dash's @babel/polyfill 7.12.1
   (core-js 2) replaces in current browsers with slower JavaScript: its feature
   test still counts U+180E as white space, which ES2016 dropped, so it judges
   the native ones broken. plotly.js (d3) and the Dash renderer call them all
   the time: measured here, 0.2-0.5 s of CPU per page load and a few per cent
   of every redraw. The natives come from a fresh, empty same-origin frame;
   they differ from the polyfill only on U+180E. Loaded after the polyfill and
   before the Dash renderer and plotly.js (assets run in name order, this
   folder's files before those in assets/vendor/). */
(function () {
  "use strict";
  var frame;
  try {
    frame = document.createElement("iframe");
    frame.style.display = "none";
    (document.body || document.documentElement).appendChild(frame);
    var w = frame.contentWindow;
    var same = function (a, b) { return typeof a === "function" && typeof b === "function"; };
    var put = function (obj, key, fn) {
      if (!same(obj[key], fn) || obj[key] === fn) return;
      Object.defineProperty(obj, key, { value: fn, writable: true, configurable: true, enumerable: false });
    };
    ["trim", "trimStart", "trimEnd", "trimLeft", "trimRight"].forEach(function (k) {
      put(String.prototype, k, w.String.prototype[k]);
    });
    put(window, "parseFloat", w.parseFloat);
    put(window, "parseInt", w.parseInt);
    put(Number, "parseFloat", w.parseFloat);
    put(Number, "parseInt", w.parseInt);
    put(Math, "sinh", w.Math.sinh);
  } catch (e) {
    /* keep the polyfill's versions: they work, only slower */
  } finally {
    if (frame && frame.parentNode) frame.parentNode.removeChild(frame);
  }
})();

/* Pure UI: in lecture mode (class "lecture" on <html>, components/lecture.py) every
   figure's text is drawn larger, for the back of the room.

   The figures come from the server with their font sizes; this scales them on their way
   into plotly.js (a wrapper around Plotly.react, which dcc.Graph calls for every draw, live
   training updates included), so a figure is drawn once, at the right size. The server's
   figure is kept on the graph, and switching lecture mode draws the graphs again from it. */
(function () {
  "use strict";
  var FACTOR = 1.25;
  var BASE = 13; // the size of text without one of its own (components/theme.py base_layout)

  function lecture() {
    return document.documentElement.classList.contains("lecture");
  }

  // A copy of `obj` in which every font's size is FACTOR times larger. Only objects and
  // arrays of objects are walked (data arrays, typed or not, are shared, not copied).
  function scaled(obj, key) {
    if (Array.isArray(obj)) {
      if (!obj.length || typeof obj[0] !== "object" || obj[0] === null || Array.isArray(obj[0])) return obj;
      return obj.map(function (x) { return scaled(x, null); });
    }
    if (!obj || typeof obj !== "object" || ArrayBuffer.isView(obj)) return obj;
    var out = {};
    for (var k in obj) {
      if (Object.prototype.hasOwnProperty.call(obj, k)) out[k] = scaled(obj[k], k);
    }
    if (key !== null && /font$/i.test(key) && typeof out.size === "number") {
      out.size = Math.round(out.size * FACTOR * 10) / 10;
    }
    return out;
  }

  function forLecture(layout) {
    var out = scaled(layout || {}, null);
    out.font = Object.assign({}, out.font || {});
    if (typeof (layout && layout.font && layout.font.size) !== "number") out.font.size = BASE * FACTOR;
    return out;
  }

  function wrap(Plotly) {
    if (!Plotly || Plotly.__linclsLecture || typeof Plotly.react !== "function") return;
    var react = Plotly.react;
    Plotly.react = function (gd, data, layout, config) {
      var fig = data && !Array.isArray(data) && typeof data === "object" ? data : null;
      var original = fig ? fig : { data: data, layout: layout, config: config };
      if (gd && typeof gd === "object") gd.__linclsFigure = original;
      if (!lecture()) return react.apply(this, arguments);
      var big = Object.assign({}, original, {
        data: (original.data || []).map(function (t) { return scaled(t, null); }),
        layout: forLecture(original.layout),
      });
      return fig ? react.call(this, gd, big) : react.call(this, gd, big.data, big.layout, big.config);
    };
    Plotly.__linclsLecture = true;
  }

  // Draw every graph again from its server figure, at the size the mode asks for.
  window.linclsLectureRedraw = function () {
    var plots = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < plots.length; i++) {
      var gd = plots[i];
      if (gd.__linclsFigure && window.Plotly) window.Plotly.react(gd, gd.__linclsFigure);
    }
  };

  // plotly.js may load before or after this file: wrap it whenever it is defined
  if (window.Plotly) {
    wrap(window.Plotly);
  } else {
    var current;
    Object.defineProperty(window, "Plotly", {
      configurable: true,
      enumerable: true,
      get: function () { return current; },
      set: function (v) { current = v; wrap(v); },
    });
  }
})();

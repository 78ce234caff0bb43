'use strict';
// The plotly.js the app draws with: plotly.js/lib/core (which registers scatter) plus
// the other trace types the views build. Keep in step with TRACES in ../vendor_plotly.py.
var Plotly = require('plotly.js/lib/core');
Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/heatmap'), require('plotly.js/lib/contour')]);
module.exports = Plotly;

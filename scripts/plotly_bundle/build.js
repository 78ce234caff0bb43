'use strict';
// node build.js OUTFILE: bundle entry.js into one minified classic script that
// defines the global `Plotly` (what dcc.Graph looks for), after `npm ci`.
// The options follow plotly.js's own esbuild-config.js, less the plugins only
// WebGL and map traces need; maplibre's CSS (required only for map traces) is
// loaded as empty: the bundle ships no CSS.
var path = require('path');
var esbuild = require('esbuild');
var version = require('plotly.js/package.json').version;

var outfile = process.argv[2];
if(!outfile) {
    console.error('usage: node build.js OUTFILE');
    process.exit(2);
}

esbuild.buildSync({
    entryPoints: [path.join(__dirname, 'entry.js')],
    outfile: path.resolve(outfile),
    bundle: true,
    format: 'iife',
    globalName: 'Plotly',
    minify: true,
    target: 'es2016',
    define: {global: 'window', 'define.amd': 'false'},
    loader: {'.css': 'empty'},
    banner: {js: [
        '/**',
        '* plotly.js (lincls custom: scatter, bar, heatmap, contour - minified) v' + version,
        '* Copyright 2012-2026, Plotly, Inc.',
        '* All rights reserved.',
        '* Licensed under the MIT license',
        '*/'
    ].join('\n')},
    logLevel: 'warning'
});

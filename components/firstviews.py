"""When the first views are drawn: the moment the page's deferred work waits for.

MathJax (:mod:`components.formulas`) and the teaching sections
(:mod:`components.deferred`) are asked for only once the four first graphs are
drawn (or after 15 s) and the browser is idle. Window "load" alone is too early:
Dash draws the graphs after it, from chunks it loads itself.
"""

from __future__ import annotations

import json

from components import ids

#: the graphs of the first views
GRAPHS = (ids.TEMPLATES_GRAPH, ids.CURVES_GRAPH, ids.GC_HEATMAP, ids.GC_SCATTER)

#: A JavaScript expression: one promise per page, shared by every clientside
#: callback that waits for the first views.
WHEN_DRAWN_JS = """(window.__linclsViewsDrawn || (window.__linclsViewsDrawn = new Promise((resolve) => {
    const ids = __GRAPH_IDS__;
    const drawn = () => ids.every((id) => document.querySelector('#' + id + ' .main-svg'));
    const idle = () => (window.requestIdleCallback ? requestIdleCallback(() => resolve(true), {timeout: 1000})
                                                    : setTimeout(() => resolve(true), 200));
    const t0 = Date.now();
    const poll = () => ((drawn() || Date.now() - t0 > 15000) ? idle() : setTimeout(poll, 100));
    poll();
})))""".replace("__GRAPH_IDS__", json.dumps(list(GRAPHS)))

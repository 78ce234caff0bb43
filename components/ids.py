"""Every component id of the page, in one place.

Ids are kebab-case, area first (``data-``, ``loss-``, ``init-``, ``train-``,
``gradcheck-``, ``templates-``, ``curves-``, ``summary-``, ``alert-``), so a
test, a callback or a stylesheet can find any element by name. Stores (per
browser session state) end in ``-store``.
"""

# -- sidebar: data ---------------------------------------------------------
DATASET = "data-dataset"
TRAIN_SIZE = "data-train-size"
TEST_SIZE = "data-test-size"
PREPROCESSING = "data-preprocessing"
DATA_FIELDSET = "data-fieldset"

# -- sidebar: loss and regularization -------------------------------------
LOSS = "loss-name"
LOSS_FORMULA = "loss-formula"
DELTA = "loss-delta"
REG = "loss-reg"
REG_MODE = "loss-reg-mode"
REG_BIAS = "loss-reg-bias"

# -- sidebar: initialization ----------------------------------------------
INIT = "init-method"
SEED = "init-seed"
RESET_BUTTON = "init-reset-button"
INIT_FIELDSET = "init-fieldset"

# -- sidebar: training -----------------------------------------------------
LR = "train-lr"
BATCH_SIZE = "train-batch-size"
EPOCHS = "train-epochs"
TRAIN_PACE = "train-pace"
TRAIN_BUTTON = "train-button"
STOP_BUTTON = "train-stop-button"
TRAIN_PROGRESS = "train-progress"
TRAIN_STATUS = "train-status"

# -- sidebar: gradient check ----------------------------------------------
GC_SAMPLES = "gradcheck-samples"
GC_H = "gradcheck-h"
GC_METHOD = "gradcheck-method"
GC_ENTRIES = "gradcheck-entries"
GC_SUBSET = "gradcheck-subset"
GC_BUG = "gradcheck-bug"

# -- views -----------------------------------------------------------------
ALERT_DATA = "alert-data"  # set once at page load (e.g. an unusable --data folder)
ALERT_COMPUTE = "alert-compute"
ALERT_TRAIN = "alert-train"

SUMMARY = "summary-cards"
SUMMARY_LOSS = "summary-loss"
SUMMARY_TRAIN_ACC = "summary-train-acc"
SUMMARY_TEST_ACC = "summary-test-acc"
SUMMARY_SIZES = "summary-sizes"
SUMMARY_TIME = "summary-time"

TEMPLATES_GRAPH = "templates-graph"
TEMPLATES_SCALE = "templates-scale"
TEMPLATES_SCALE_FIELDSET = "templates-scale-fieldset"

CURVES_GRAPH = "curves-graph"

GC_VIEW = "gradcheck-view"
GC_HEATMAP = "gradcheck-heatmap"
GC_SCATTER = "gradcheck-scatter"
GC_SUMMARY = "gradcheck-summary"

# -- stores (per-session state, in the browser) ---------------------------
SESSION_STORE = "session-store"  # {"id": uuid}: makes background-job cache keys unique per page
WEIGHTS_STORE = "weights-store"  # the current W (compact base64) + where it came from
HISTORY_STORE = "history-store"  # the loss/accuracy history of the training that produced W
LIVE_STORE = "train-live-store"  # latest W + history streamed by a running job (survives Stop)
RESULT_STORE = "train-result-store"  # the finished job's final W + history
RUNNING_STORE = "train-running-store"  # True while a training job runs (set by `running=`)
COMMITTED_STORE = "train-committed-store"  # {"run", "step"} last copied into weights-store
GC_DRAWN_STORE = "gradcheck-drawn-store"  # dataset key the gradient-check figures were last drawn for in full

# -- view "Inside the gradient" (components/inside.py, sweep.py, landscape.py) --
INSIDE_VIEW = "inside-view"
INSIDE_TABS = "inside-tabs"  # value: "sweep" or "landscape"; only the shown tab computes
SWEEP_GRAPH = "sweep-graph"
SWEEP_CAPTION = "sweep-caption"
SWEEP_MESSAGE = "sweep-message"
SWEEP_FORMULA = "sweep-formula"  # a dcc.Markdown (MathJax), as every teaching view's formula
LANDSCAPE_GRAPH = "landscape-graph"
LANDSCAPE_MODE = "landscape-mode"
LANDSCAPE_DIRECTION = "landscape-direction"
LANDSCAPE_SPAN = "landscape-span"
LANDSCAPE_SEED = "landscape-seed"
LANDSCAPE_FORMULA = "landscape-formula"  # a dcc.Markdown (MathJax): the slice and its directions
LANDSCAPE_CAPTION = "landscape-caption"
LANDSCAPE_MESSAGE = "landscape-message"

# -- section "Inspect the classifier" (components/inspector.py, examples.py, evaluation.py, compare.py,
#    hypergrid.py): tabs Examples / Mistakes & score maps / Softmax vs SVM / Grid search; a tab computes only
#    while it shows
INSPECT_SECTION = "inspect-section"
INSPECT_TABS = "inspect-tabs"  # value: "examples", "mistakes", "compare" or "grid"
EXAMPLES_SPLIT = "examples-split"
EXAMPLES_INDICES = "examples-indices"  # image numbers, e.g. "0, 1, 2"
EXAMPLES_RANDOM = "examples-random-button"
EXAMPLES_TABLE = "examples-table"
EXAMPLES_TOTALS = "examples-totals"
EXAMPLES_SCOREMAP = "examples-scoremap"
EXAMPLES_SCOREMAP_INFO = "examples-scoremap-info"
EXAMPLES_FORMULA = "examples-formula"  # follows the sidebar's loss (probabilities or margins)
EXAMPLES_SELECTED_STORE = "examples-selected-store"  # {"split", "index"} of the clicked row
EVALUATION_CONFUSION = "evaluation-confusion"
EVALUATION_SUMMARY = "evaluation-summary"
EVALUATION_GALLERY = "evaluation-gallery"
EVALUATION_SCOREMAP = "evaluation-scoremap"
EVALUATION_SCOREMAP_INFO = "evaluation-scoremap-info"
EVALUATION_FORMULA = "evaluation-formula"
EVALUATION_SELECTED_STORE = "evaluation-selected-store"  # {"split": "test", "index"} of the clicked mistake
COMPARE_BUTTON = "compare-button"
COMPARE_FORMULA = "compare-formula"
COMPARE_CANCEL = "compare-cancel-button"
COMPARE_PROGRESS = "compare-progress"
COMPARE_STATUS = "compare-status"
COMPARE_SUMMARY = "compare-summary"
COMPARE_RESULT = "compare-result"
COMPARE_NUMBERS_SOFTMAX = "compare-numbers-softmax"
COMPARE_NUMBERS_HINGE = "compare-numbers-hinge"
COMPARE_TEMPLATES_SOFTMAX = "compare-templates-softmax"
COMPARE_TEMPLATES_HINGE = "compare-templates-hinge"
COMPARE_CURVES_SOFTMAX = "compare-curves-softmax"
COMPARE_CURVES_HINGE = "compare-curves-hinge"
HYPERGRID_LRS = "hypergrid-lrs"
HYPERGRID_REGS = "hypergrid-regs"
HYPERGRID_BUTTON = "hypergrid-button"
HYPERGRID_CANCEL = "hypergrid-cancel-button"
HYPERGRID_PROGRESS = "hypergrid-progress"
HYPERGRID_STATUS = "hypergrid-status"
HYPERGRID_MESSAGE = "hypergrid-message"
HYPERGRID_HEATMAP = "hypergrid-heatmap"
HYPERGRID_DETAIL = "hypergrid-detail"
HYPERGRID_CELL = "hypergrid-cell"
HYPERGRID_TEMPLATES = "hypergrid-templates"
HYPERGRID_CURVES = "hypergrid-curves"
HYPERGRID_FORMULA = "hypergrid-formula"
HYPERGRID_STORE = "hypergrid-store"  # the grid's settings and finished cells (numbers only, no weights)


def examples_row(index):
    """Pattern-matching id of a table row's image button; index "train:17" / "test:3", or dash.ALL."""
    return {"type": "examples-row", "index": index}


def evaluation_mistake(index):
    """Pattern-matching id of a mistake card; index the test image number, or dash.ALL."""
    return {"type": "evaluation-mistake", "index": index}

# -- teach with it (issue 6): lecture state, lecture mode, break it, kinks, formulas, exports --
APP_ROOT = "app-root"  # the page's root div; lecture mode adds the class "lecture" to it
LECTURE_LOCATION = "lecture-location"  # dcc.Location: every control in the URL query
LECTURE_TOGGLE = "lecture-mode"  # lecture mode: advanced controls hidden, larger text
LECTURE_COPY = "lecture-copy-link"  # dcc.Clipboard: copies the link of the current view
ALERT_URL = "alert-url"  # URL values that were ignored, and why
GC_KINKS = "gradcheck-kinks"  # "show kinks" toggle of the heatmap overlay
GC_BUG_BANNER = "gradcheck-bug-banner"  # names the planted bug
GC_BUG_TEXT = "gradcheck-bug-text"  # its text: the bug's name, description, when the check catches it
GC_FIX_BUTTON = "gradcheck-fix-button"  # "Fix it": back to the real gradient
CURVES_FORMULA = "curves-formula"  # the loss and the regularization, typeset
GC_FORMULA = "gradcheck-formula"  # the gradient and the relative error, typeset
FORMULA_STORE = "formula-store"  # the choices to typeset, set once the page has loaded
DEFERRED_STORE = "deferred-store"  # set once the first views are drawn: mounts the teaching sections
EXPORT_WEIGHTS_BUTTON = "export-weights-button"
EXPORT_HISTORY_BUTTON = "export-history-button"
EXPORT_GC_BUTTON = "export-gradcheck-button"
EXPORT_CONFIG_BUTTON = "export-config-button"
EXPORT_DOWNLOAD = "export-download"
EXPORT_UPLOAD = "export-upload"
EXPORT_STATUS = "export-status"

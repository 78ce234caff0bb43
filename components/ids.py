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

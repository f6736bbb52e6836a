"""Where each command's outputs go by default, written once.

Torch-free, so the CLI's help can show these paths without importing the training stack; the
plans (:mod:`archlab.train.plan`, :mod:`archlab.workflows.study_plan`) and the workflows read
them from here.
"""

from __future__ import annotations

DEFAULT_STORE = "archlab-runs/store.db"  # train-candidates and study
DEMO_STORE = "archlab-runs/demo.db"
DEMO_OUT = "reports/demo"
COMPARE_STORE = "archlab-runs/compare.db"
COMPARE_OUT = "archlab-runs/compare"

"""The results store: one SQLite file of candidates, runs, epoch metrics and study records.

``Store`` (``_db.py``) is the one public API over the file; ``schema`` holds the tables and row
records, ``frames`` the pandas views reports read, ``study`` the study records (kept through the
store's public transaction and query methods), ``_faults`` the one-line fault messages. No torch.
"""

from __future__ import annotations

from archlab.store._db import BUSY_TIMEOUT_S, Store
from archlab.store._faults import StoreFaultError
from archlab.store.frames import write_parquet
from archlab.store.schema import (
    EPOCH_METRICS,
    FINAL_STATUSES,
    SCHEMA_VERSION,
    STATUSES,
    EpochRecord,
    RunRecord,
)

__all__ = ["BUSY_TIMEOUT_S", "EPOCH_METRICS", "FINAL_STATUSES", "SCHEMA_VERSION", "STATUSES",
           "EpochRecord", "RunRecord", "Store", "StoreFaultError", "write_parquet"]  # fmt: skip

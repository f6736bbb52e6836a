"""The results store's frames: every epoch (long format) and one row per run, for reports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import IO

import pandas as pd

from archlab.errors import ArchlabError
from archlab.store.schema import EPOCH_METRICS, RESULT_HEAD, RESULT_TAIL, typed_metrics

# A run whose last validation error is within this much of chance error (1 - 1/K for K classes)
# learned next to nothing. 1 - 1/K because the store keeps no class counts, and a small val
# split's most common class can hold well over 1/K: benchmarks/bench_recipe.py's 32x32 set has
# 17 of 100 val images in one class, so a run stuck on it ends at 83% (one of its batch-128
# runs did). 10 points flags such runs (>= 80% for ten classes) and not digits runs that learned
# something (at batch 128: 51-79%). On a strongly imbalanced split 1 - 1/K overstates chance,
# so such a split's stuck runs may go unflagged.
NEAR_CHANCE_MARGIN = 0.10


def chance_error(num_classes: int) -> float:
    """The error of guessing among K equally likely classes: 1 - 1/K."""
    return 1 - 1 / num_classes


def epochs_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    """Every epoch of every run, long format, keyed by run_id, name, seed, rung and epoch."""
    frame = pd.read_sql_query(
        f"SELECT epochs.run_id, candidates.name, runs.seed, runs.rung, runs.config_key, "
        f"epochs.epoch, {', '.join('epochs.' + m for m in EPOCH_METRICS)} FROM epochs "
        "JOIN runs ON runs.id = epochs.run_id "
        "JOIN candidates ON candidates.id = runs.candidate_id "
        "ORDER BY candidates.name, runs.seed, runs.rung, epochs.run_id, epochs.epoch",
        conn,
    )
    return typed_metrics(frame)


def results_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    """One row per run: candidate, last and best metrics, throughput and provenance."""
    runs = pd.read_sql_query(
        f"SELECT {', '.join(RESULT_HEAD + RESULT_TAIL)} "
        "FROM runs JOIN candidates c ON c.id = runs.candidate_id",
        conn,
    )
    runs["budget_epochs"] = runs["budget_epochs"].astype("Int64")
    ep = typed_metrics(pd.read_sql_query("SELECT * FROM epochs ORDER BY run_id, epoch", conn))
    by_run = ep.groupby("run_id")
    last = by_run.tail(1).set_index("run_id")
    # Best = lowest val error, earliest on ties; a run whose val errors are all NaN has none.
    best = ep.loc[ep.dropna(subset=["val_error"]).groupby("run_id")["val_error"].idxmin()]
    best = best.set_index("run_id")
    stats = pd.DataFrame(
        {
            "val_error": last["val_error"],
            "best_val_error": best["val_error"],
            "best_epoch": best["epoch"].astype("Int64"),
            "test_error": last["test_error"],
            "test_error_at_best_val": best["test_error"],
            "test_top5_error": last["test_top5_error"],
            "train_loss": last["train_loss"],
            "images_per_s": by_run["images_per_s"].median(),
            "wall_s": by_run["wall_s"].sum(min_count=1),
            "peak_mem_bytes": by_run["peak_mem_bytes"].max(),
        },
        index=pd.Index(last.index, name="run_id"),
    )
    frame = runs.join(stats, on="run_id")
    frame["chance_error"], frame["near_chance"] = _chance_columns(conn, frame)
    head = len(RESULT_HEAD)
    chance = ["chance_error", "near_chance"]
    order = [*runs.columns[:head], *stats.columns, *chance, *runs.columns[head:]]
    frame = frame[order].sort_values(["name", "seed", "rung", "config_key", "run_id"])
    return frame.reset_index(drop=True)


def _chance_columns(conn: sqlite3.Connection, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each run's chance error (from its candidate's classes) and whether it ended near it."""
    classes: dict[int, int | None] = {}
    for cid, text in conn.execute("SELECT id, spec_json FROM candidates"):
        try:
            k = json.loads(text).get("num_classes")
        except (json.JSONDecodeError, AttributeError):  # an older store's placeholder spec
            k = None
        classes[int(cid)] = int(k) if isinstance(k, int) and k >= 2 else None
    ks = [classes.get(int(c)) for c in frame["candidate_id"]]
    chance = pd.Series([chance_error(k) if k else None for k in ks], index=frame.index,
                       dtype="Float64")  # fmt: skip
    near = frame["val_error"].astype("Float64") >= chance - NEAR_CHANCE_MARGIN
    return chance, near.astype("boolean")


def write_parquet(frame: pd.DataFrame, path: str | Path | IO[bytes]) -> None:
    """Write a frame as Parquet (to a path or a seekable binary file), or say which extra to
    install when no engine is present."""
    try:
        frame.to_parquet(path, index=False)
    except ImportError:
        raise ArchlabError("parquet export needs pyarrow: pip install 'archlab[parquet]'") from None

"""A stored study's verdict, rebuilt from the results store alone (the study and its runs).

Per-seed errors come from the runs of the study's training recipe (its ``config_key``), taken in
seed order 0, 1, 2, ... and stopping at the first seed not yet trained: the sequential rule
(:mod:`archlab.stats.sequential`) replays over them, so a resumed study, the report and
a replay over a fixed design all reach the same verdict. Verdicts use the validation error of the
run's last epoch; the test error is reported beside it and never decides. A diverged run counts
at chance error (100·(1 - 1/classes) %): diverging is an outcome of the arm under the recipe.

Seeds are paired: a study trains seeds 0..n-1 of every arm, and seed s of every arm shares its
data order, augmentation draws and (with ``split = per-seed``) its validation split, so the
verdict tests the per-seed differences (docs/statistics.md, "Paired seeds"); a definition that
says ``paired: false`` keeps the unpaired test. The measured correlation between each pair's
arms is reported beside its verdict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from archlab.space import NetSpec, spec_from_dict
from archlab.stats.best import prob_best
from archlab.stats.pairwise import all_pairs, best_arm
from archlab.stats.sequential import FUTILITY, SequentialState, sequential_state
from archlab.store import Store
from archlab.store.study import StudyRecord

_DONE = ("finished", "diverged")


@dataclass(frozen=True)
class SeedErrors:
    """Per arm, in seed order: validation and test errors (%), and the compute spent (s)."""

    val: dict[str, list[float]]
    test: dict[str, list[float]]
    wall_s: float
    trained: dict[str, set[int]]  # seeds with a finished or diverged run, per arm


def arm_specs(definition: dict[str, Any]) -> dict[str, NetSpec]:
    """Label -> spec of every arm of a study definition."""
    return {a["label"]: spec_from_dict(a["spec"]) for a in definition["arms"]}


def tested_labels(definition: dict[str, Any]) -> list[str]:
    """Labels of the matched arms (the reference arm is shown, not tested)."""
    return [a["label"] for a in definition["arms"] if a["matched"]]


def seed_errors(store: Store, definition: dict[str, Any]) -> SeedErrors:
    """The study's per-seed errors from its runs in the store."""
    specs = arm_specs(definition)
    ids: dict[int, str] = {}
    for cid, spec_json in store.candidate_specs().items():
        spec = spec_from_dict(json.loads(spec_json))
        for label, arm_spec in specs.items():
            if spec == arm_spec:
                ids[cid] = label
    frame = store.results_frame()
    frame = frame[frame["config_key"] == definition["config_key"]]
    frame = frame[frame["candidate_id"].isin(list(ids)) & frame["status"].isin(_DONE)]
    val: dict[str, list[float]] = {label: [] for label in specs}
    test: dict[str, list[float]] = {label: [] for label in specs}
    trained: dict[str, set[int]] = {label: set() for label in specs}
    by_seed: dict[str, dict[int, tuple[float, float]]] = {label: {} for label in specs}
    for row in frame.itertuples(index=False):
        label = ids[int(row.candidate_id)]
        chance = 100.0 * (1 - 1 / specs[label].num_classes)
        v = chance if row.status == "diverged" or _nan(row.val_error) else 100.0 * row.val_error
        t = math.nan if _nan(row.test_error) else 100.0 * row.test_error
        by_seed[label][int(row.seed)] = (v, chance if row.status == "diverged" else t)
        trained[label].add(int(row.seed))
    for label, seeds in by_seed.items():
        seed = 0
        while seed in seeds:  # seed order, up to the first gap
            val[label].append(seeds[seed][0])
            test[label].append(seeds[seed][1])
            seed += 1
    wall = float(frame["wall_s"].sum(min_count=1)) if len(frame) else 0.0
    return SeedErrors(val, test, 0.0 if math.isnan(wall) else wall, trained)


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class StudyOutcome:
    """A study's state: arms with their seeds, the pairs' verdicts, the best arm."""

    name: str
    definition: dict[str, Any]
    errors: SeedErrors
    state: SequentialState
    prob_best: dict[str, float]
    best: str | None
    status: str | None

    def to_dict(self) -> dict[str, Any]:
        """The ``study --json`` object: ``arms``, ``pairs`` and ``best`` (plus the question)."""
        d = self.definition
        arms = []
        for arm in d["arms"]:
            label = arm["label"]
            used = self.state.used.get(label, len(self.errors.val[label]))
            val = self.errors.val[label][:used]
            test = self.errors.test[label][:used]
            arms.append(
                {
                    **{k: v for k, v in arm.items() if k != "spec"},
                    "seeds": used,
                    "val_errors": val,
                    "val_error_mean": _mean(val),
                    "val_error_std": _std(val),
                    "test_error_mean": _mean(test),
                    "prob_best": _finite(self.prob_best.get(label)),
                }
            )
        return {
            "study": self.name,
            "question": d["question"],
            "match": d["match"],
            "target": d["target"],
            "alpha": d["alpha"],
            "rope": d["rope"],
            "seeds": d["seeds"],
            "max_seeds": d["max_seeds"],
            "settings": settings(d),
            "status": self.status,
            "arms": arms,
            "pairs": [
                {**r.to_dict(), "correlation": _finite(self.correlation(r.a, r.b))}
                for r in self.state.rows
            ],
            "best": {
                "arm": self.best,
                "prob_best": {k: _finite(v) for k, v in self.prob_best.items()},
            },
            "compute": compute(arms, d["max_seeds"]),
        }

    def correlation(self, a: str, b: str) -> float | None:
        """Pearson correlation of two arms' errors over the seeds both have (None below 3)."""
        return correlation(self.errors.val[a], self.errors.val[b])


def compute(arms: list[dict[str, Any]], max_seeds: int) -> dict[str, int]:
    """Runs of the tested arms so far, beside the runs of the fixed design at ``max_seeds``.

    The saving the sequential rule buys (docs/statistics.md): a reference arm is shown, not
    tested, so it is in neither count.
    """
    tested = [a for a in arms if a.get("matched", True)]
    return {"runs": sum(a["seeds"] for a in tested), "fixed_design_runs": len(tested) * max_seeds}


def correlation(x: list[float], y: list[float]) -> float | None:
    """Correlation of per-seed errors over the seeds both arms have; None when undefined."""
    n = min(len(x), len(y))
    if n < 3:
        return None
    a, b = np.asarray(x[:n], dtype=float), np.asarray(y[:n], dtype=float)
    if float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return None  # a constant arm has no correlation to measure
    return float(np.corrcoef(a, b)[0, 1])


def settings(definition: dict[str, Any]) -> dict[str, Any]:
    """The statistical settings a study's verdict used: its test, pairing and futility rule."""
    paired = bool(definition.get("paired", True))
    train = definition.get("train", {})
    split = str(train.get("split", "fixed"))
    shared = "a per-seed validation split" if split == "per-seed" else "one fixed validation split"
    if train.get("stratify"):  # only a stratified study's definition holds the key
        split, shared = f"{split}, stratified", f"{shared} (stratified)"
    return {
        "test": "difference of means, seed variance floored at one validation image, "
        "Hsu's min(n) - 1 df; Bonferroni over the pairs",
        "paired": paired,
        "split": split,
        "pairing": "paired seed differences (seed s of every arm shares data order, "
        f"augmentation draws and {shared})"
        if paired
        else "unpaired (seeds of different arms taken as independent)",
        "resolution": resolution(definition),
        "futility": FUTILITY,
    }


def resolution(definition: dict[str, Any]) -> float | None:
    """Points per validation image when the study records its validation size, else None."""
    size = definition.get("val_size")
    return 100.0 / size if isinstance(size, int) and size > 0 else None


def _finite(value: float | None) -> float | None:
    """None for a missing or NaN P(best) (fewer than two seeds): JSON has no NaN."""
    return None if value is None or math.isnan(value) else value


def _mean(x: list[float]) -> float | None:
    return float(np.mean(x)) if x else None


def _std(x: list[float]) -> float | None:
    return float(np.std(x, ddof=1)) if len(x) > 1 else None


def mean_ci(x: list[float]) -> tuple[float, float, float]:
    """Mean and its 95% t interval clipped to [0, 100] (NaN bounds with fewer than two seeds)."""
    m = float(np.mean(x))
    if len(x) < 2:
        return m, math.nan, math.nan
    half = float(special.stdtrit(len(x) - 1, 0.975)) * float(np.std(x, ddof=1)) / math.sqrt(len(x))
    return m, max(0.0, m - half), min(100.0, m + half)  # an error rate lies in [0, 100] %


def evaluate_study(store: Store, record: StudyRecord, *, power: bool = True) -> StudyOutcome:
    """Rebuild a study's verdict from its stored definition and runs."""
    d = record.definition
    errors = seed_errors(store, d)
    tested = tested_labels(d)
    state = sequential_state(
        {label: errors.val[label] for label in tested},
        n0=d["seeds"],
        n_max=d["max_seeds"],
        alpha=d["alpha"],
        rope=d["rope"],
        paired=bool(d.get("paired", True)),
        resolution=resolution(d),
        pairs=[tuple(p) for p in d["pairs"]] if "pairs" in d else all_pairs(tested),
        power=power,
    )
    used = {label: errors.val[label][: state.used.get(label, 0)] for label in tested}
    chances = prob_best(used, resolution=resolution(d)) if all(used.values()) else {}
    return StudyOutcome(
        record.name,
        d,
        errors,
        state,
        chances,
        best_arm(state.rows) if state.done else None,
        record.status,
    )

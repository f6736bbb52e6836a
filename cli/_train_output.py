"""How the training commands print their results; shared, so no command imports another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import MATCH_ERR, console, percent, table

if TYPE_CHECKING:
    from archlab.workflows.study import StudyResult
    from archlab.workflows.train_candidates import InvocationSummary


def summary_dict(summary: InvocationSummary) -> dict[str, Any]:
    """A train-candidates summary as JSON-ready data."""
    return {
        "store": summary.store,
        "workdir": summary.workdir,
        "config_key": summary.config_key,
        "runs": [r.__dict__ for r in summary.runs],
    }


def print_summary(summary: InvocationSummary) -> None:
    """The runs table and where results went."""
    rows = [
        [r.name, r.seed, r.rung, r.status + (" (stored)" if r.skipped else ""), r.epochs,
         r.val_error, r.test_error, r.reason or ""]
        for r in summary.runs
    ]  # fmt: skip
    columns = ["candidate", "seed", "rung", "status", "epochs", "val error", "test error", "reason"]
    out = console()
    out.print(table("runs", columns, rows))
    out.print(f"store: {summary.store}   checkpoints and logs: {summary.workdir}")
    failed = summary.count("failed")
    if failed:
        out.print(f"{failed} run(s) failed; rerun the same command to retry them")


def print_study(result: StudyResult) -> None:
    """The arms table, the verdict table and why the study stopped."""
    d = result.to_dict()
    out = console()
    out.print(d["question"])
    rule = d["settings"]
    out.print(
        f"verdict: {rule['pairing']}; validation split {rule['split']}; futility below "
        f"{rule['futility']:.0%}"
    )
    out.print(table("arms", *_arm_rows(d["arms"], d["match"])))
    pairs = [
        [p["a"], p["b"], p["diff"], p["ci_low"], p["ci_high"], p["p_adj"], p["verdict"],
         f"{p['seeds_to_win'] or '—'} / {p['seeds_to_equivalence'] or '—'}"]
        for p in d["pairs"]
    ]  # fmt: skip
    cols = ["A", "B", "A - B (pts)", "CI low", "CI high", "p adj", "verdict", "seeds: win / tie"]
    out.print(table("verdict (validation error)", cols, pairs))
    out.print(f"best: {d['best']['arm'] or 'none decided'}; stopped: {d['stop']}")
    runs, fixed = d["compute"]["runs"], d["compute"]["fixed_design_runs"]
    share = f" ({runs / fixed:.0%})" if fixed else ""
    design = f"a fixed {d['max_seeds']}-seed design trains"
    out.print(f"runs of the tested arms: {runs} of the {fixed} {design}{share}")
    if d["failed"]:
        out.print(f"runs that did not finish: {', '.join(d['failed'])}; rerun to retry them")
    for note in d["notes"]:
        out.print(note)


def _arm_rows(arms: list[dict[str, Any]], match: str) -> tuple[list[str], list[list[Any]]]:
    cols = ["arm", "C", "d", "depth", "MACs", MATCH_ERR, "seeds", "val err %", "test err %"]
    rows = [
        [a["label"] + ("" if a["matched"] else " (reference)"), a["cardinality"],
         a["bottleneck_width"], a["depth"], a["macs"], percent(a["relative_error"]), a["seeds"],
         a["val_error_mean"], a["test_error_mean"]]
        for a in arms
    ]  # fmt: skip
    if any("speed" in a for a in arms):  # matched on measured time: the time and its interval
        key = "step_ms_per_image" if match == "speed" else "latency_ms"
        ci = "step_ms_ci" if match == "speed" else "latency_ms_ci"
        cols[5:5] = ["ms/image" if match == "speed" else "ms/batch", "95% interval"]
        for row, a in zip(rows, arms, strict=True):
            s = a.get("speed") or {}
            shown = f"[{s[ci][0]:.4g}, {s[ci][1]:.4g}]" if ci in s else None
            row[5:5] = [s.get(key), shown]
    return cols, rows


def print_demo_step(step: str, result: Any) -> None:
    """One step of the demo under its heading: the match, the family, the study, the report."""
    from archlab.search.solver import Match
    from archlab.workflows.space import CandidateTable
    from archlab.workflows.study import StudyResult

    out = console()
    out.rule(step)
    if isinstance(result, Match):
        d = result.to_dict()
        cols = ["model", "C", "d", "block params", "MACs", "params"]
        rows = [
            [d["baseline_name"], 1, result.baseline.bottleneck_width, d["baseline_block_params"],
             d["baseline_network"]["macs"], d["baseline_network"]["params"]],
            [d["name"], d["cardinality"], d["bottleneck_width"], d["block_params"],
             d["network"]["macs"], d["network"]["params"]],
        ]  # fmt: skip
        out.print(table(f"{d['template']} depth {d['depth']}", cols, rows))
    elif isinstance(result, CandidateTable):
        cols = ["name", "depth", "cardinality", "bottleneck_width", "block_params", "macs"]
        rows = [[_native(v) for v in r] for r in result.frame[cols].itertuples(index=False)]
        out.print(table(result.title, cols, rows))
    elif isinstance(result, StudyResult):
        print_study(result)
    else:
        out.print(f"report written to {result}")


def _native(value: object) -> object:
    """numpy scalars -> Python numbers, for printing."""
    return value.item() if hasattr(value, "item") else value

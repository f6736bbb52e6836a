"""`archlab study`: matched arms, seeds until decided, and the verdict; rerun to resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import console, parse_int_list, print_json, table

if TYPE_CHECKING:
    from archlab.workflows.study import StudyResult

DEFAULT_STORE = "archlab-runs/store.db"


def study_cmd(
    preset: Annotated[
        str | None, typer.Option("--preset", help="cardinality | depth-width-cardinality.")
    ] = None,
    arms: Annotated[
        Path | None, typer.Option("--arms", help="JSON from `archlab space --json`, or specs.")
    ] = None,
    template: Annotated[str, typer.Option("--template", help="imagenet or cifar.")] = "cifar",
    complexity: Annotated[
        float | None, typer.Option("--complexity", help="Target x baseline (preset default).")
    ] = None,
    cardinalities: Annotated[
        str | None, typer.Option("--cardinalities", help="Comma list of C (preset default).")
    ] = None,
    depth: Annotated[int | None, typer.Option("--depth", help="Baseline depth.")] = None,
    width_multiplier: Annotated[
        float, typer.Option("--width-multiplier", help="Scale stem and stage widths (d is solved).")
    ] = 1.0,
    match: Annotated[str, typer.Option("--match", help="macs or params.")] = "macs",
    tolerance: Annotated[float, typer.Option("--tolerance", help="Max match error.")] = 0.05,
    alpha: Annotated[float, typer.Option("--alpha", help="Family-wise error rate.")] = 0.05,
    rope: Annotated[float, typer.Option("--rope", help="Negligible difference, points.")] = 0.5,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per arm at first.")] = 3,
    max_seeds: Annotated[int, typer.Option("--max-seeds", help="Seeds per arm at most.")] = 10,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Training seconds, whole study.")
    ] = None,
    dataset: Annotated[str, typer.Option("--dataset", help="digits | cifar10:PATH | ...")] = (
        "digits"
    ),
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs per run.")] = 10,
    limit: Annotated[int | None, typer.Option("--limit", help="Training images cap.")] = None,
    augment: Annotated[
        str, typer.Option("--augment", help="auto | crop,flip | crop | flip | none.")
    ] = "auto",
    name: Annotated[str, typer.Option("--name", help="Study name in the store.")] = "study",
    store: Annotated[Path, typer.Option("--store", help="SQLite results store.")] = Path(
        DEFAULT_STORE
    ),
    keep: Annotated[
        int, typer.Option("--keep", help="Newest checkpoints kept per run, besides the best.")
    ] = 1,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")] = "auto",
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads per run.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> int:
    """Answer the paper's question on your data: matched arms, a verdict, seeds until decided."""
    from archlab.train.progress import NullReporter, make_reporter
    from archlab.workflows.study import StudyPlan, run_study

    plan = StudyPlan(
        preset=preset if preset is not None or arms is not None else "cardinality",
        arms_file=str(arms) if arms is not None else None,
        template=template,
        complexity=complexity,
        cardinalities=tuple(parse_int_list(cardinalities, "--cardinalities"))
        if cardinalities is not None
        else None,
        width_multiplier=width_multiplier,
        depth=depth,
        match=match,
        tolerance=tolerance,
        alpha=alpha,
        rope=rope,
        seeds=seeds,
        max_seeds=max_seeds,
        time_budget=time_budget,
        train={"dataset": dataset, "epochs": epochs, "limit": limit, "augment": augment},
    )
    if store == Path(DEFAULT_STORE):  # the default store's folder is ours to create
        store.parent.mkdir(parents=True, exist_ok=True)
    result = run_study(
        plan, name=name, store_path=store, device=device, threads=threads, keep=keep,
        reporter=NullReporter() if as_json else make_reporter(quiet=False),
    )  # fmt: skip
    print_json(result.to_dict()) if as_json else print_study(result)
    return 1 if result.any_failed else 0


def print_study(result: StudyResult) -> None:
    """The arms table, the verdict table and why the study stopped."""
    d = result.to_dict()
    out = console()
    out.print(d["question"])
    out.print(table("arms", *_arm_rows(d["arms"])))
    pairs = [
        [p["a"], p["b"], p["diff"], p["ci_low"], p["ci_high"], p["p_adj"], p["verdict"],
         f"{p['seeds_to_win'] or '—'} / {p['seeds_to_equivalence'] or '—'}"]
        for p in d["pairs"]
    ]  # fmt: skip
    cols = ["A", "B", "A - B (pts)", "CI low", "CI high", "p adj", "verdict", "seeds: win / tie"]
    out.print(table("verdict (validation error)", cols, pairs))
    out.print(f"best: {d['best']['arm'] or 'none decided'}; stopped: {d['stop']}")
    if d["failed"]:
        out.print(f"runs that did not finish: {', '.join(d['failed'])}; rerun to retry them")
    for note in d["notes"]:
        out.print(note)


def _arm_rows(arms: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    cols = ["arm", "C", "d", "depth", "MACs", "match err", "seeds", "val err %", "test err %"]
    rows = [
        [a["label"] + ("" if a["matched"] else " (reference)"), a["cardinality"],
         a["bottleneck_width"], a["depth"], a["macs"], a["relative_error"], a["seeds"],
         a["val_error_mean"], a["test_error_mean"]]
        for a in arms
    ]  # fmt: skip
    return cols, rows


def register(app: typer.Typer) -> None:
    """Attach the command to the app."""
    app.command("study")(study_cmd)

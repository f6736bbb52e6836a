"""The earlier spellings (``--seeds N`` as a count, ``--time-budget``): a notice when they work,
and nothing but the error's one line when the command refuses its input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from archlab.cli import plan_options as po

Cli = Callable[..., tuple[int, str, str]]
STUDY = ["study", "--preset", "cardinality", "--template", "cifar", "--depth", "11"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([*STUDY, "--seeds", "0"], "--min-seeds must be a positive integer, got 0"),
        ([*STUDY, "--seeds", "-3"], "--min-seeds must be a positive integer"),
        ([*STUDY, "--seeds", "abc"], "a study takes a seed count"),
        ([*STUDY, "--seeds", "3", "--max-seeds", "1"], "--max-seeds"),  # another option's value
        ([*STUDY, "--time-budget", "-1"], "--study-time-budget must be positive"),
        ([*STUDY, "--time-budget", "abc"], "--time-budget"),
        (["train-candidates", "--cardinalities", "1", "--time-budget", "0"], "--run-time-budget"),
        (["train-candidates", "--cardinalities", "1", "--time-budget", "nan"], "nan"),
        (["demo", "--seeds", "0"], "--min-seeds"),
    ],
)
def test_a_bad_value_with_an_old_spelling_is_one_line(
    cli: Cli, tmp_path: Path, args: list[str], fragment: str
) -> None:
    store = tmp_path / "s.db"
    code, out, err = cli(*args, "--store", str(store), "--print-config")
    assert code == 2 and out == ""
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert fragment in err and "deprecated" not in err
    assert not store.exists()


def test_bad_data_found_after_the_plan_resolves_is_one_line(cli: Cli, tmp_path: Path) -> None:
    # The plan is valid, the data set is not there: the refusal comes from loading it.
    missing = tmp_path / "missing" / "cifar"  # never created
    store = tmp_path / "s.db"
    data = ["--width-multiplier", "0.125", "--dataset", f"cifar10:{missing}"]
    code, _, err = cli(*STUDY, "--seeds", "2", "--time-budget", "60", *data, "--store", str(store))
    assert code == 2
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert str(missing) in err and "deprecated" not in err


def test_valid_old_spellings_each_get_their_notice(cli: Cli, tmp_path: Path) -> None:
    code, printed, err = cli(*STUDY, "--seeds", "4", "--time-budget", "60", "--print-config")
    assert code == 0 and "min_seeds = 4" in printed
    notices = po.notices({"seed_count": "4", "time_budget": 60.0}, po.STUDY)
    assert err.splitlines() == [f"archlab study: warning: {n}" for n in notices]
    assert len(err.splitlines()) == 2


def test_notices_name_the_new_spelling_by_the_command() -> None:
    (run,) = po.notices({"time_budget": 5.0}, po.RUN)
    (study,) = po.notices({"time_budget": 5.0}, po.STUDY)
    assert run.endswith("use --run-time-budget") and study.endswith("use --study-time-budget")
    assert po.notices({"time_budget": None, "epochs": 3}, po.RUN) == []


def test_deprecations_print_only_when_the_body_returns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    params = {"time_budget": 5.0}
    with pytest.raises(ValueError), po.deprecations(params, po.RUN):
        raise ValueError("bad input")
    assert capsys.readouterr().err == ""
    with po.deprecations(params, po.RUN):
        assert capsys.readouterr().err == ""  # not before the work is done
    notices = [f"archlab: warning: {n}" for n in po.notices(params, po.RUN)]  # no command here
    assert capsys.readouterr().err.splitlines() == notices


@pytest.mark.parametrize("command", ["train-candidates", "study", "demo", "compare-spaces"])
def test_dataset_help_lists_exactly_the_source_registry(command: str) -> None:
    import typer
    from archlab.cli.main import app

    from archlab.train.sources import SOURCES

    group = typer.main.get_command(app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    (param,) = [p for p in params if "--dataset" in p.opts]
    forms = [f.removesuffix(" (the default)") for f in str(param.help).split(" | ")]
    assert forms == [s.form for s in SOURCES.values()]
    assert str(param.help).startswith("digits (the default) | ")  # TrainConfig's default


def test_a_new_source_shows_up_in_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from archlab.train import sources

    entry = dataclasses.replace(sources.SOURCES["npz"], prefix="stripes")
    monkeypatch.setitem(sources.SOURCES, "stripes", entry)
    assert po.dataset_help().split(" | ")[-1] == "stripes:PATH"


def _helps(command: str) -> dict[str, str]:
    import typer
    from archlab.cli.main import app

    found = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {p.opts[0]: getattr(p, "help", "") or "" for p in found.params}


def test_the_defaults_help_states_are_the_librarys() -> None:
    """A default in --help is the one the plan resolves to (what --print-config writes)."""
    from archlab.train.config import DEFAULT_KEEP, TrainConfig
    from archlab.train.plan import Halving
    from archlab.workflows.study_plan import StudyQuestion

    train, study = _helps("train-candidates"), _helps("study")
    config = TrainConfig()
    for option, value in [("--val-fraction", config.val_fraction), ("--epochs", config.epochs),
                          ("--batch-size", config.batch_size), ("--momentum", config.momentum),
                          ("--weight-decay", config.weight_decay), ("--schedule", config.schedule),
                          ("--warmup-epochs", config.warmup_epochs), ("--form", config.form),
                          ("--label-smoothing", config.label_smoothing), ("--keep", DEFAULT_KEEP),
                          ("--eta", Halving.eta), ("--min-epochs", Halving.min_epochs),
                          ("--max-epochs", Halving.max_epochs)]:  # fmt: skip
        assert f"(default {value})" in train[option], option
    question = StudyQuestion(preset="cardinality")
    for option, value in [("--alpha", question.alpha), ("--rope", question.rope),
                          ("--min-seeds", question.min_seeds), ("--max-seeds", question.max_seeds),
                          ("--tolerance", question.tolerance),
                          ("--match", question.match)]:  # fmt: skip
        assert f"(default {value}" in study[option], option
    # Training takes CIFAR's template unless told otherwise; match-flops takes ImageNet's.
    assert question.template == "cifar" and study["--template"].startswith("cifar (Sec. 5.3, the d")
    assert train["--template"] == study["--template"]
    assert _helps("match-flops")["--template"].startswith("imagenet (Table 1, the default)")
    assert (
        "--scope" in _helps("match-flops")["--match"] and "Study" not in _helps("space")["--match"]
    )


def test_the_store_and_print_config_say_where_defaults_live() -> None:
    from archlab.train.defaults import COMPARE_OUT, COMPARE_STORE, DEFAULT_STORE, DEMO_OUT
    from archlab.train.plan import RunPlan
    from archlab.workflows.compare_spaces import CompareQuestion
    from archlab.workflows.study_plan import StudyQuestion

    helps = _helps("train-candidates")
    assert "every default" in helps["--print-config"]
    assert f"(default {DEFAULT_STORE}; demo: " in helps["--store"]
    assert RunPlan.seeds == (0,) and helps["--seeds"].endswith("(default 0).")
    assert "(default on)" in helps["--channels-last"] and "(default: all)" in helps["--limit"]
    assert helps["--device"].startswith("auto (the default")
    assert "grid (the default" in helps["--strategy"]
    assert f"(default {StudyQuestion.name})" in _helps("study")["--name"]
    compare = _helps("compare-spaces")
    assert f"(default {COMPARE_OUT})" in compare["--out"] and COMPARE_STORE in compare["--store"]
    assert f"(default {CompareQuestion.samples})" in compare["--samples"]
    assert f"(default {CompareQuestion.seed})" in compare["--seed"]
    assert f"(default {DEMO_OUT})" in _helps("demo")["--out"]


def test_each_width_multiplier_help_states_its_commands_default() -> None:
    """match-flops, space and count once said 'study and demo: 1/8 on a CPU' beside their own 1."""
    import inspect

    from archlab.train.plan import select_candidates
    from archlab.workflows.demo import DEMO_BASE
    from archlab.workflows.study_plan import DEFAULT_WIDTH

    default = inspect.signature(select_candidates).parameters["width_multiplier"]
    assert default.default == 1.0
    for command in ("match-flops", "space", "count", "train-candidates"):
        assert _helps(command)["--width-multiplier"].endswith("(default 1).")
    assert DEFAULT_WIDTH == {"cpu": 0.125, "cuda": 1.0}
    assert "(default: 1/8 on a CPU, 1 on CUDA)" in _helps("study")["--width-multiplier"]
    assert DEMO_BASE["study"]["width_multiplier"] == 0.125
    assert "(default 1/8, the demo's)" in _helps("demo")["--width-multiplier"]
    assert all("study" not in h["--width-multiplier"] for h in map(_helps, ("space", "count")))


def test_one_option_reads_the_same_in_every_command() -> None:
    """--device, --store (to read) and the complexity bands: one wording where one meaning."""
    device = {c: _helps(c)["--device"] for c in ("match-flops", "count", "study", "demo")}
    assert all(h.startswith("auto (the default: cuda where torch sees one), cpu or cuda: ")
               for h in device.values())  # fmt: skip
    assert {c: _helps(c)["--store"] for c in ("results", "export", "watch")} == dict.fromkeys(
        ("results", "export", "watch"), "The results store to read (never written)."
    )
    for band in ("--macs", "--params", "--acts"):
        assert _helps("space")[band] == _helps("compare-spaces")[band]


@pytest.mark.parametrize("command", ["train-candidates", "study", "demo", "compare-spaces"])
def test_help_groups_the_training_options_by_the_plan_table_they_set(command: str) -> None:
    import typer
    from archlab.cli.main import app

    panel = {"data": "Data", "recipe": "Recipe and budget", "budget": "Recipe and budget",
             "output": "Output", "execution": "Execution"}  # fmt: skip
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    shown = {p.name: getattr(p, "rich_help_panel", None) for p in params}
    assert {n: shown[n] for n in po.TRAINING} == {
        n: panel[key.partition(".")[0]] for n, (key, _) in po.TRAINING.items()
    }
    assert all(shown[n] is None for n in shown if n not in po.TRAINING)  # its own, on top


# --------------------------------------------------------------------------- --stratify

COMMANDS = {
    "train-candidates": ["train-candidates", "--cardinalities", "1"],
    "study": STUDY,
    "demo": ["demo"],
    "compare-spaces": ["compare-spaces", "a.toml", "b.toml"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_stratify_round_trips_through_print_config(cli: Cli, tmp_path: Path, command: str) -> None:
    args = COMMANDS[command]
    code, default, err = cli(*args, "--print-config")
    assert code == 0, err
    assert "\nstratify = false\n" in default  # every default filled in, this one too
    code, printed, err = cli(*args, "--stratify", "--print-config")
    assert code == 0, err
    assert printed == default.replace("\nstratify = false\n", "\nstratify = true\n")
    plan = tmp_path / "plan.toml"
    plan.write_text(printed, encoding="utf-8")
    code, again, err = cli(command, "--config", str(plan), "--print-config")
    assert (code, again) == (0, printed), err
    code, off, err = cli(command, "--config", str(plan), "--no-stratify", "--print-config")
    assert (code, off) == (0, default), err


@pytest.mark.parametrize(
    ("given", "line"),
    [
        (["--stratify=yes"], "Option '--stratify' does not take a value."),
        (["--config", "{plan}"], "--stratify must be true or false, got 'yes'"),
    ],
)
def test_a_bad_stratify_value_is_one_line(
    cli: Cli, tmp_path: Path, given: list[str], line: str
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('[data]\nstratify = "yes"\n[select]\ncardinalities = [1]\n', encoding="utf-8")
    store = tmp_path / "s.db"
    args = [a.format(plan=plan) for a in given]
    code, out, err = cli("train-candidates", *args, "--store", str(store), "--cardinalities", "1")
    assert (code, out) == (2, "")
    assert err == f"archlab train-candidates: error: {line}\n"
    assert not store.exists()

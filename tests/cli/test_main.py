"""The entry point itself: --version, and inputs that would otherwise end in a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

import archlab

Cli = Callable[..., tuple[int, str, str]]
UNESCAPED_MARKUP = re.compile(r"(?<!\\)\[[a-z][^\]]*\]")  # "[tag]" not written as "\\[tag]"


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_archlab_and_torch(cli: Cli, flag: str) -> None:
    code, out, err = cli(flag)
    assert code == 0 and err == ""
    assert out.strip() == f"archlab {archlab.__version__} (torch {version('torch')})"
    assert re.fullmatch(r"archlab \d+\.\d+\.\d+ \(torch \S+\)", out.strip())


def test_version_does_not_import_torch() -> None:
    probe = (
        "import sys; from archlab.cli.main import run; code = run(['--version']); "
        "print(code, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 False"


def test_version_is_listed_in_help(cli: Cli) -> None:
    code, out, _ = cli("--help")
    assert code == 0 and "--version" in out


def _one_line_exit_2(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 2, err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1
    return err


def test_deeply_nested_candidates_json_is_one_line(cli: Cli, tmp_path: Path) -> None:
    """json.loads raises RecursionError here; the entry point's last resort turns it into a line."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    err = _one_line_exit_2(cli("train-candidates", "--candidates", str(path), "--epochs", "1"))
    assert "nested too deeply" in err
    spec = '{"a": ' * 50_000 + "1" + "}" * 50_000
    path.write_text(f'[{{"spec": {spec}}}]')
    _one_line_exit_2(cli("train-candidates", "--candidates", str(path), "--epochs", "1"))


def test_memory_error_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("archlab.workflows.space.enumerate_space", exhausted)
    err = _one_line_exit_2(cli("space", "--cardinalities", "1,2"))
    assert "too large" in err


def test_completion_options_are_in_help(cli: Cli) -> None:
    code, out, _ = cli("--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


def _exit_code(cli: Cli, *args: str) -> int:
    """Completion ends the process itself (sys.exit), as the console script would."""
    with pytest.raises(SystemExit) as info:
        cli(*args)
    return int(info.value.code or 0)


def test_show_completion_prints_a_bash_script(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")  # name the shell
    assert _exit_code(cli, "--show-completion", "bash") == 0
    out = capsys.readouterr().out
    assert "_ARCHLAB_COMPLETE=complete_bash" in out and "complete " in out and "archlab" in out


@pytest.mark.parametrize(
    ("words", "expected"),
    [("archlab re", {"report", "results"}), ("archlab results --c", {"--csv"})],
)
def test_the_shell_completes_commands_and_options(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    words: str,
    expected: set[str],
) -> None:
    """What bash asks the completion script for, answered by archlab itself."""
    monkeypatch.setenv("_ARCHLAB_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split()) - 1))
    assert _exit_code(cli) == 0
    assert set(capsys.readouterr().out.split()) == expected


def test_library_words_become_the_flags_the_user_typed() -> None:
    from archlab.cli.main import _flags
    from archlab.cli.options import flag, plan_words

    from archlab.errors import OptionError

    flags = _flags()
    message = "strategy.max_epochs must exceed strategy.min_epochs; data.name and select.files"
    assert plan_words(message, flags) == (
        "--max-epochs must exceed --min-epochs; --dataset and --candidates"
    )
    # A key no option sets stays as a plan file spells it; a file name is not a key.
    assert plan_words("data.split_seed in plan.toml", flags) == "data.split_seed in plan.toml"
    for text in ("file 'c.json'", "/tmp/output.store", "my.recipe.lr", "output.store.db"):
        assert plan_words(text, flags) == text
    assert plan_words("set recipe.lr.", flags) == "set --lr."
    exc = OptionError("{} needs {} (not {})", "space_file", "sample", "depths")
    assert exc.render(flag) == "--space needs --sample (not --depth)"


def test_a_stop_speaks_of_resuming_only_for_a_command_that_trains() -> None:
    from archlab.cli.main import stop_line

    assert stop_line("interrupted", ["count", "resnet50"]) == "archlab: interrupted"
    for command in ("train-candidates", "study", "demo", "compare-spaces"):
        line = stop_line("terminated (SIGTERM)", [command, "--epochs", "1"])
        assert line.startswith("archlab: terminated (SIGTERM); finished epochs are stored")


def test_no_help_text_holds_brackets_that_rich_would_eat() -> None:
    # Help renders through rich, which reads "[...]" as markup and drops it: "Peak learning
    # rate [default: ...]." printed as "Peak learning rate ." Defaults go in parentheses.
    import typer
    from archlab.cli.main import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert len(commands) > 10
    texts = [
        (f"{name} {param.name}", getattr(param, "help", None) or "")
        for name, command in commands.items()
        for param in command.params
    ] + [(name, command.help or "") for name, command in commands.items()]
    eaten = [f"{where}: {text}" for where, text in texts if UNESCAPED_MARKUP.search(text)]
    assert eaten == []


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["match-flops", "-C", "32", "--width-multiplier", "0"],
         "--width-multiplier must be in (0, 64], got 0.0"),
        (["match-flops", "-C", "32", "--template", "imagent"],
         "--template must be one of imagenet, cifar, got 'imagent'"),
        (["study", "--preset", "cardinality", "--alpha", "0"],
         "--alpha must lie in (0, 0.5], got 0.0"),
        (["train-candidates", "--cardinalities", "1,2", "--schedule", "linear"],
         "--schedule must be one of cosine, step, got 'linear'"),
        (["study", "--preset", "cardinality", "--cardinalities", "1"],
         "--cardinalities needs a C beyond the preset's own arms (C=1), got [1]; e.g. 1,2,4"),
        (["train-candidates", "--cardinalities", "1", "--tensorboard", ""],
         "--tensorboard must be a non-empty string, got ''"),
        (["study", "--preset", "cardinality", "--mlflow", " "],
         "--mlflow must be a non-empty string, got ' '"),
        (["train-candidates", "--cardinalities", "1", "--epochs", "1", "--run-time-budget", "5"],
         "give one budget: --epochs or --run-time-budget (seconds), not both"),
        # A keyword whose flag this command lacks stays the library's word.
        (["space", "--cardinalities", "0"], "cardinality must be a positive integer, got 0"),
    ],
)  # fmt: skip
def test_an_error_names_the_flag_the_user_typed(cli: Cli, argv: list[str], line: str) -> None:
    err = _one_line_exit_2(cli(*argv))
    assert err == f"archlab {argv[0]}: error: {line}\n"


@pytest.mark.parametrize("command", ["study", "compare-spaces", "demo"])
def test_a_folder_as_the_store_is_refused_as_train_candidates_refuses_it(
    cli: Cli, tmp_path: Path, command: str
) -> None:
    args = {"study": ["--preset", "cardinality"], "compare-spaces": ["a.toml", "b.toml"]}
    argv = [command, *args.get(command, []), "--store", str(tmp_path), "--out", str(tmp_path)]
    if command == "study":
        argv = argv[:-2]
    err = _one_line_exit_2(cli(*argv))
    where = f"archlab {command}: error: store path '{tmp_path}'"
    assert err == f"{where} is a directory; give a file such as runs.db\n"


def test_a_space_files_keys_stay_as_the_file_spells_them(cli: Cli, tmp_path: Path) -> None:
    space = tmp_path / "a.toml"
    space.write_text(
        'template = "cifar"\ndepth = 29\nwidth_multiplier = 0\n'
        '[cardinality]\nsampler = "pow2"\nlow = 1\nhigh = 4\n'
        '[bottleneck_width]\nsampler = "log-uniform"\nlow = 1\nhigh = 8\n'
    )
    err = _one_line_exit_2(cli("space", "--space", str(space), "--sample", "2"))
    assert ": width_multiplier must lie in (0, 64]" in err and "--width-multiplier" not in err


def test_field_words_rewrite_only_whole_keywords_the_command_has() -> None:
    from archlab.cli.main import field_words

    flags = {"--input-size", "--out", "--run", "--template"}
    assert field_words("input_size must be positive", flags) == "--input-size must be positive"
    assert field_words("out '/x' is not a folder", flags) == "--out '/x' is not a folder"
    assert field_words("run_id 3 and template must be", flags) == "--run 3 and template must be"
    assert field_words("x; give out if not", flags) == "x; give --out if not"
    for text in ("file 'input_size.db' lost", "/tmp/input_size", "see a.input_size", "outward"):
        assert field_words(text, flags) == text


def test_help_texts_read_whole_and_name_what_they_write(cli: Cli) -> None:
    import typer
    from archlab.cli.main import app

    # `archlab --help` lists each command's first paragraph as typed: a line break inside it
    # broke the export entry after "torch.export".
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    broken = [name for name, c in commands.items() if "\n" in (c.help or "").split("\n\n")[0]]
    assert broken == []
    _, out, _ = cli("export", "--help")
    assert ".pt2" in out
    _, out, _ = cli("train-candidates", "--help")
    assert "params" in out[out.index("--scope") : out.index("--seeds")]
    _, out, _ = cli("count", "--help")
    assert "1000" in out[out.index("--num-classes") : out.index("--counters")]


@pytest.mark.parametrize(
    ("argv", "end"),
    [
        (["watch", "--interval", "abc"], "unable to parse string as a number, got 'abc'"),
        (["match-flops", "-C", "abc"], "unable to parse string as an integer, got 'abc'"),
        (["match-flops", "--cardinality=1.5"], "unable to parse string as an integer, got '1.5'"),
        (["space", "--sample", "0"], "greater than or equal to 1, got '0'"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(cli: Cli, argv: list[str], end: str) -> None:
    err = _one_line_exit_2(cli(*argv))
    assert err.rstrip("\n").endswith(end)
    assert err.count("got ") == 1


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        # typer's own: a bad value for a typed option, a missing option or argument value, an
        # unknown option, an unknown command
        (["space", "--sample", "0"], "archlab space"),
        (["report"], "archlab report"),
        (["match-flops", "-C"], "archlab match-flops"),  # click has no context for this one
        (["train-candidates", "--no-such-option"], "archlab train-candidates"),
        (["no-such-command"], "archlab"),
        (["--no-such-option"], "archlab"),
        # the library's: a value, a contradiction (OptionError), a plan key
        (["space", "--cardinalities", "0"], "archlab space"),
        (["match-flops", "-C", "32", "--template", "imagent"], "archlab match-flops"),
        (["space", "--seed", "1"], "archlab space"),
        (["train-candidates", "--cardinalities", "1", "--schedule", "linear"],
         "archlab train-candidates"),
        (["study", "--preset", "cardinality", "--alpha", "0"], "archlab study"),
    ],
)  # fmt: skip
def test_every_error_line_names_its_command_in_one_shape(
    cli: Cli, argv: list[str], command: str
) -> None:
    err = _one_line_exit_2(cli(*argv))
    assert re.fullmatch(rf"{command}: error: \S.*\n", err), err
    assert "(archlab" not in err  # typer's errors once read "archlab: error (archlab space): ..."


def test_the_last_resort_line_names_its_command_too(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise RecursionError

    monkeypatch.setattr("archlab.workflows.space.enumerate_space", exhausted)
    err = _one_line_exit_2(cli("space", "--cardinalities", "1,2"))
    assert err == "archlab space: error: input nested too deeply to process (RecursionError)\n"


def test_the_command_an_error_is_about_is_read_from_the_words_typed() -> None:
    from archlab.cli.main import command_path

    assert command_path(["--json", "results", "--store", "x.db"]) == "archlab results"
    assert command_path(["no-such-command"]) == "archlab"
    assert command_path([]) == "archlab"


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["match-flops", "-C", "8", "--template", "cifar", "--width-multiplier", "0.125"],
         "archlab match-flops: warning: resnext29_8x2d_w0.125 is 20.59% off"),
        (["train-candidates", "--cardinalities", "1", "--time-budget", "30", "--print-config"],
         "archlab train-candidates: warning: --time-budget is deprecated"),
        (["study", "--preset", "cardinality", "--seeds", "3", "--print-config"],
         "archlab study: warning: --seeds N (a count) is deprecated"),
    ],
)  # fmt: skip
def test_every_warning_line_names_its_command_as_an_error_line_does(
    cli: Cli, argv: list[str], start: str
) -> None:
    from archlab.errors import warning_line

    code, _, err = cli(*argv)
    assert code == 0 and len(err.splitlines()) == 1 and err.startswith(start), err
    assert warning_line("x") == "archlab: warning: x"  # the command's name ends with its run


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["train-candidates", "--cardinalities", "1", "--store", ""], "--store"),
        (["study", "--preset", "cardinality", "--store", ""], "--store"),
        (["space", "--match", "speed", "--cardinalities", "1", "--store", ""], "--store"),
        (["results", "--store", ""], "--store"),
        (["export", "--best", "--store", ""], "--store"),
        (["watch", "--once", "--store", ""], "--store"),
        (["report", "--store", "", "--out", "r"], "--store"),
        (["report", "--out", ""], "--out"),
        (["demo", "--out", ""], "--out"),
        (["export", "--best", "--out", " "], "--out"),
        (["compare-spaces", "a.toml", "b.toml", "--out", ""], "--out"),
        (["train-candidates", "--config", ""], "--config"),
        (["study", "--config", "", "--print-config"], "--config"),
        (["study", "--arms", ""], "--arms"),
        (["train-candidates", "--candidates", ""], "--candidates"),
        (["results", "--csv", ""], "--csv"),
    ],
)
def test_an_empty_path_is_refused_naming_its_flag(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], flag: str
) -> None:
    """Path('') is '.', the current folder: the line said '.' where nothing was typed."""
    monkeypatch.chdir(tmp_path)
    value = argv[argv.index(flag) + 1]
    err = _one_line_exit_2(cli(*argv))
    assert err == (
        f"archlab {argv[0]}: error: Invalid value for '{flag}': the path is empty, got {value!r}\n"
    )
    assert "'.'" not in err and list(tmp_path.iterdir()) == []  # nothing written


def test_no_help_paragraph_keeps_a_source_line_break() -> None:
    """typer prints a later paragraph's line breaks as they are: a wrapped docstring line broke
    ``space --help`` mid-sentence at some terminal widths."""
    import typer
    from archlab.cli.main import app, help_paragraphs

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    broken = [n for n, c in commands.items() if any("\n" in p for p in c.help.split("\n\n"))]
    assert broken == [] and "\n\n" in commands["space"].help
    assert help_paragraphs("A\n  b.\n\n  C\n  d.\n") == "A b.\n\nC d."


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["space", "--json", "--csv"],
         "--json and --csv are two formats for one output; give one"),
        (["space", "--cardinalities", "1,a"],
         "--cardinalities needs a comma-separated list of integers, got '1,a'"),
        (["results", "--csv", "x.csv", "--json"], "give at most one of --csv, --parquet, --json"),
    ],
)  # fmt: skip
def test_a_shims_own_usage_error_reads_as_the_librarys_do(
    cli: Cli, argv: list[str], line: str
) -> None:
    """It names its flags itself; click's 'Invalid value: ' before it said nothing more."""
    assert _one_line_exit_2(cli(*argv)) == f"archlab {argv[0]}: error: {line}\n"

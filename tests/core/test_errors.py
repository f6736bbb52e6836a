"""archlab.errors: the exceptions' messages and the warning line's one shape."""

from __future__ import annotations

import threading

import pytest

from archlab.errors import OptionError, print_warning, speaking_as, warning_line


def test_option_error_renders_its_options_in_the_callers_words() -> None:
    error = OptionError("{} needs {}", "seed", "sample")
    assert str(error) == "seed needs sample"
    assert error.render(lambda o: f"--{o}") == "--seed needs --sample"


def test_a_warning_line_names_the_command_that_speaks(capsys: pytest.CaptureFixture[str]) -> None:
    assert warning_line("x is off") == "archlab: warning: x is off"  # a Python caller
    seen: list[str] = []
    with speaking_as("archlab space"):
        print_warning("x is off")
        # a helper thread (a pool's result thread, a tracking sink) speaks for the command too
        thread = threading.Thread(target=lambda: seen.append(warning_line("y")))
        thread.start()
        thread.join()
    assert capsys.readouterr() == ("", "archlab space: warning: x is off\n")
    assert seen == ["archlab space: warning: y"]
    with pytest.raises(RuntimeError), speaking_as("archlab study"):
        raise RuntimeError("a command that failed")
    assert warning_line("z") == "archlab: warning: z"  # restored, after an error too

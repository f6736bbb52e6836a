"""archlab's MLflow settings hold for its own calls only; failures said in a few words."""

from __future__ import annotations

import os

import pytest

from archlab.workflows._mlflow_http import check_scheme, mlflow_env, reason

KEYS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")  # fmt: skip


def test_settings_hold_inside_and_are_undone_after(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
        MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT,
    )

    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")  # the user's value is kept
    with mlflow_env("HTTP://tracking.example:5000"):
        assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 0
        assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 3
        assert MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.get() is True
    assert os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") == "3"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" not in os.environ
    with mlflow_env("sqlite:///m.db"):  # no HTTP: only the quiet setting
        assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
        assert MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.get() is True
    with pytest.raises(RuntimeError), mlflow_env("http://x"):  # undone on an error too
        raise RuntimeError
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("HTTPConnectionPool(...): Max retries exceeded (Caused by NewConnectionError(...: "
         "Failed to establish a new connection: [Errno 111] Connection refused'))",
         "nothing answers at http://h:5000 (connection refused)"),
        ("Caused by ReadTimeoutError(\"HTTPConnectionPool(host='h', port=5000): Read timed out.",
         "no answer from http://h:5000 within 10 s"),
        ("[Errno -2] Name or service not known", "the host of http://h:5000 is not found"),
        ("API request to endpoint /api/2.0/mlflow/runs/create failed with error code 401 != 200",
         "http://h:5000 answered HTTP 401: it needs credentials (MLFLOW_TRACKING_USERNAME"),
        ("API request ... failed with error code 403 != 200",
         "http://h:5000 answered HTTP 403: it refused this client"),
        ("API request ... failed with error code 503 != 200. Response body: 'x'",
         "http://h:5000 answered HTTP 503: see the server's log"),
        ("disk I/O error\nsecond line", "disk I/O error"),
    ],
)  # fmt: skip
def test_a_failure_is_said_in_a_few_words(
    monkeypatch: pytest.MonkeyPatch, message: str, words: str
) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    said = reason(RuntimeError(message), "http://h:5000/some/path")
    assert said.startswith(words) and "\n" not in said


def test_a_scheme_mlflow_lacks_is_named_with_those_it_has() -> None:
    with pytest.raises(ValueError, match=r"a URI of .*http:, https:.*; not ftp:"):
        check_scheme("ftp://h/x")
    for fine in (
        "sqlite:///m.db",
        "/tmp/mlruns",
        "mlruns",
        "file:./x",
        "postgresql+psycopg2://h/d",
    ):
        check_scheme(fine)

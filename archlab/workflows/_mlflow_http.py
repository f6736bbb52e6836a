"""archlab's own settings for its MLflow calls, and a failed call said in a few words.

MLflow's client reads its HTTP settings from the environment at each request. Around archlab's
calls (and only those: the caller's environment is put back after each) the sink sets

- ``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0`` and ``MLFLOW_HTTP_REQUEST_TIMEOUT=10`` for an HTTP(S)
  URI, so a server that went away costs one short wait instead of MLflow's default retries with
  backoff (minutes per call), and
- ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true``: with a server, MLflow prints "View run ... at:
  URL" on stdout each time a run ends, which tore up the live bars and broke ``study --json``,

each unless the user set it (docs/training.md, "Tracking").
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
QUIET = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
_LOCK = threading.RLock()  # the environment is the process's: one archlab call at a time


def is_http(uri: str) -> bool:
    """Whether ``uri`` names a tracking server (http or https, any case)."""
    return uri.split(":", 1)[0].lower() in ("http", "https")


@contextmanager
def mlflow_env(uri: str) -> Iterator[None]:
    """archlab's MLflow settings for the calls inside, each unless already set; then restored."""
    wanted = {**QUIET, **(HTTP_LIMITS if is_http(uri) else {})}
    with _LOCK:
        added = [key for key in wanted if key not in os.environ]
        for key in added:
            os.environ[key] = wanted[key]
        try:
            yield
        finally:
            for key in added:
                os.environ.pop(key, None)


def check_scheme(uri: str) -> None:
    """Raise ValueError naming the schemes MLflow tracks to when ``uri``'s is none of them."""
    try:
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry
        from mlflow.utils.uri import get_uri_scheme

        known = sorted(k for k in _tracking_store_registry._registry if k)
        scheme = get_uri_scheme(uri)
    except Exception:  # another MLflow's internals: leave the check to the client
        return
    if scheme and len(scheme) > 1 and scheme not in known:  # "C:" is a Windows folder
        schemes = ", ".join(f"{k}:" for k in known)
        raise ValueError(f"MLflow tracks to a folder or a URI of {schemes}; not {scheme}:")


def _server(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else uri


def reason(exc: BaseException, uri: str) -> str:
    """What went wrong talking to ``uri``, in a few words (MLflow's messages run to 1,000+)."""
    text = str(exc)
    server = _server(uri)
    if "Connection refused" in text:
        return f"nothing answers at {server} (connection refused)"
    if re.search(r"timed out|timeout", text, re.IGNORECASE):
        wait = os.environ.get(
            "MLFLOW_HTTP_REQUEST_TIMEOUT", HTTP_LIMITS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
        )
        return f"no answer from {server} within {wait} s (MLFLOW_HTTP_REQUEST_TIMEOUT)"
    if re.search(r"Name or service not known|nodename nor servname|name resolution", text):
        return f"the host of {server} is not found"
    code = re.search(r"error code (\d{3})", text)
    if code is not None:
        status = int(code.group(1))
        why = {
            401: "it needs credentials (MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
            "or MLFLOW_TRACKING_TOKEN)",
            403: "it refused this client (a server started with --host 0.0.0.0 must name the host "
            "you use in --allowed-hosts)",
            404: "no MLflow tracking API there: is it an MLflow server's root URL?",
        }.get(status, "see the server's log")
        return f"{server} answered HTTP {status}: {why}"
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]

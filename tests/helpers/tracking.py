"""A real `mlflow server` on a free loopback port, and loopback stand-ins for broken servers.

The server is MLflow's own command, run from this interpreter's environment with a SQLite backend
and served artifacts under one folder, MLflow's background job runner off (it starts a dozen
worker processes this test does not need). It is started in a session of its own so that stopping
it stops its uvicorn worker too.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:``port``, its database and artifacts under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_s: float = 180.0) -> None:
        """Start it (again, on the same port and folder) and wait until /health answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1",
                   "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
                   "--artifacts-destination", str(self.folder / "artifacts")]  # fmt: skip
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with (self.folder / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=log, env=env, start_new_session=True
            )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server not up after {wait_s} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the server and its workers (its own process group), if it runs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass

    def log_tail(self) -> str:
        """The server log's last lines."""
        log = self.folder / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


@contextmanager
def silent_listener() -> Iterator[str]:
    """A loopback port that takes connections and never answers: a hung server's URI."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes the handshakes; nothing ever reads
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def plain_web_server() -> Iterator[str]:
    """A loopback HTTP server that answers 404 to everything: not an MLflow server."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""`cdp serve`: the service under gunicorn answers, and Ctrl-C (SIGINT to the whole process
group) or SIGTERM stop it cleanly: exit 0, no traceback, no process left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CDP = str(Path(sys.executable).with_name("cdp"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"cdp serve exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - the test's own http URL
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("cdp serve did not answer in time")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_runs_gunicorn_and_stops_cleanly(cli_env, tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        # its own process group, as a terminal's foreground job: Ctrl-C reaches every process
        proc = subprocess.Popen([CDP, "serve", "--port", str(port), "--workers", "2"],
                                env=cli_env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp_path, start_new_session=True)
        try:
            _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
            os.killpg(proc.pid, sig)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "Starting gunicorn" in text and "Using worker: cdp.http.gunicorn_support.ThreadWorker" in text
    assert "Traceback" not in text
    # nothing of the server is left behind (its workers exited with it)
    leftover = subprocess.run(["pgrep", "-f", f"serve --port {port} "], capture_output=True,
                              text=True)
    assert leftover.stdout.strip() == ""

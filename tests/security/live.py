"""A real gunicorn serving the test's database, with the repository's gunicorn.conf.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from cdp.config import Config

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_gunicorn(
    config: Config, workdir: Path, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[tuple[str, Path]]:
    """(base URL, error log path) of a gunicorn started for ``config``; stopped on exit.
    The application's own log (stderr) goes to ``app-PORT.log`` beside the error log."""
    port = free_port()
    errorlog = workdir / f"gunicorn-{port}.log"
    applog = workdir / f"app-{port}.log"
    run_env = {
        **os.environ,
        "CDP_DATABASE_URL": config.database_url,
        "CDP_KEYRING": config.keyring_path,
        "CDP_POLICY_DIR": config.policy_dir,
        "CDP_EXPORT_DIR": config.export_dir,
        "CDP_BIND": f"127.0.0.1:{port}",
        "CDP_WORKERS": str(workers),
        "CDP_THREADS": "2",
        **(env or {}),
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-c", str(REPO / "gunicorn.conf.py"), "--error-logfile", str(errorlog),
         "--log-level", "info", "--graceful-timeout", "2"],
        cwd=REPO, env=run_env, stdout=subprocess.DEVNULL, stderr=applog.open("wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {errorlog.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base, errorlog
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def raw_request(base: str, payload: bytes, timeout: float = 10) -> bytes:
    """Send ``payload`` as is on a new connection; everything the server answers."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)

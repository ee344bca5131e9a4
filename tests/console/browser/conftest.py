"""Browser tests: Debian's chromium driven by Playwright against a live server that uses the
test's database (SQLite or PostgreSQL, as the run's CDP_TEST_BACKEND says).

Playwright's own browser download does not work here; ``/usr/bin/chromium`` is launched
instead (scripts/test installs it when missing). Without it the tests are skipped, not
passed: CI sets CI=1, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.exit(f"{CHROMIUM} is missing and CI is set", 3)
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    return {"locale": "en-GB", "service_workers": "block", "java_script_enabled": True}


class LiveServer:
    def __init__(self, app: Any):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live(console_app: Any) -> Iterator[LiveServer]:
    with LiveServer(console_app) as server:
        yield server


class Watch:
    """Console errors and CSP violations of every page a test opens."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', function (e) {"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });"
        )

    def problems(self) -> list[str]:
        # Responses the test provoked on purpose (a refused page, a refused POST) log a
        # "Failed to load resource" line: those are the test's doing, not the page's.
        return [e for e in self.errors if "Failed to load resource" not in e]


@pytest.fixture
def watch(page: Any) -> Watch:
    w = Watch()
    w.attach(page)
    return w


def sign_in(page: Any, base: str, name: str, password: str, purpose: str | None) -> None:
    """Sign in through the real form, then state ``purpose`` in the "Purpose of use" select."""
    page.goto(f"{base}/console/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if purpose:
        page.wait_for_url(re.compile(r".*/console/purpose.*"))
        page.get_by_label("Purpose of use").select_option(purpose)
        page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("domcontentloaded")

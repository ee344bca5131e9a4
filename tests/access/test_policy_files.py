"""Policy files are validated as a whole; a bad name refuses to load; changes reach every worker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdp.access.policy import PolicyError, load_policy_set, policy_store
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_shipped_policy_loads_with_design_defaults() -> None:
    p = load_policy_set(PolicyFiles(POLICY_DIR))
    assert p.view_for("customer_service", "customer_support", "contact").view == "masked"
    assert p.view_for("pharmacist", "pharmacy_care", "health").view == "plain"
    assert p.view_for("marketing", "marketing", "address").level == "city"
    assert p.view_for("analyst", "analytics", "address").level == "province"
    assert p.view_for("admin", None, "contact").view == "absent"
    assert p.view_for("compliance_officer", "compliance_audit", "unknown").view == "absent"
    assert p.allows("pharmacist", "customers", "read", "pharmacy_care")
    assert not p.allows("pharmacist", "customers", "read", "marketing")
    assert not p.allows("admin", "customers", "read", "customer_support")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "views.toml",
            "[roles.analyst]\n",
            "[roles.superuser]\n[roles.analyst]\n",
            "unknown role 'superuser'",
        ),
        (
            "views.toml",
            'health = "redacted"\npurchase',
            'genome = "plain"\npurchase',
            "unknown category 'genome'",
        ),
        (
            "views.toml",
            'government_id = "masked"\nplatform_id = "masked"\nidentity = "plain"',
            'government_id = "visible"\nplatform_id = "masked"\nidentity = "plain"',
            "unknown view 'visible'",
        ),
        (
            "views.toml",
            'address = { view = "redacted", level = "city" }',
            'address = { view = "redacted", level = "street" }',
            "unknown level 'street'",
        ),
        (
            "views.toml",
            'health = { view = "redacted", consent = "marketing_health" }',
            'health = { view = "redacted", consent = "marketing_genetics" }',
            "unknown consent 'marketing_genetics'",
        ),
        (
            "views.toml",
            "categories = [\n",
            'categories = [\n  "unknown",\n',
            "'unknown' is reserved",
        ),
        (
            "policy.csv",
            "p, analyst, customers, read, analytics",
            "p, analyst, customers, read, curiosity",
            "unknown purpose 'curiosity'",
        ),
        (
            "policy.csv",
            "p, analyst, customers, read, analytics",
            "p, intern, customers, read, analytics",
            "unknown role 'intern'",
        ),
    ],
)
def test_bad_policy_refuses_to_load_with_clear_message(
    policy_dir: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(policy_dir / file, old, new)
    with pytest.raises(PolicyError) as info:
        load_policy_set(PolicyFiles(policy_dir))
    assert message in info.value.message
    assert file in info.value.message


def test_app_refuses_to_start_with_bad_policy(policy_dir: Path, config) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from cdp.app import create_app

    _edit(policy_dir / "views.toml", 'contact = "masked"', 'contact = "see-all"')
    with pytest.raises(PolicyError, match="unknown view 'see-all'"):
        create_app(replace(config, policy_dir=str(policy_dir)))


def test_policy_change_reaches_every_worker(policy_dir: Path, config, make_api_key) -> None:  # type: ignore[no-untyped-def]
    """Two app instances (two gunicorn workers) share the policy directory; a change written
    by one side is in force in the other on its next request, without a restart."""
    from dataclasses import replace

    from cdp.app import create_app

    cfg = replace(config, policy_dir=str(policy_dir))
    worker_a, worker_b = create_app(cfg), create_app(cfg)
    # Each worker is its own process in production: give them separate stores here too.
    from cdp.access import policy as policy_mod

    store_a = policy_mod.PolicyStore(PolicyFiles(policy_dir))
    headers = make_api_key("analyst", "customer_support")
    assert worker_b.test_client().get("/v1/customers/abc", headers=headers).status_code == 403
    # Worker A's operator grants analysts customer_support ...
    with open(policy_dir / "policy.csv", "a") as fh:
        fh.write("p, analyst, customers, read, customer_support\n")
    assert store_a.current().allows("analyst", "customers", "read", "customer_support")
    # ... and worker B applies it on its next request (404: allowed, no such customer).
    assert worker_b.test_client().get("/v1/customers/abc", headers=headers).status_code == 404
    # A broken edit is refused; the last good policy stays in force.
    _edit(policy_dir / "views.toml", 'contact = "masked"', 'contact = "see-all"')
    assert worker_b.test_client().get("/v1/customers/abc", headers=headers).status_code == 404
    assert "unknown view 'see-all'" in (policy_store(worker_b.extensions["cdp"].policies).last_error or "")
    for app in (worker_a, worker_b):
        app.extensions["cdp"].dispose()


def test_cli_check_catches_a_bad_edit(policy_dir: Path) -> None:
    from click.testing import CliRunner

    from cdp.cli import cli

    ok = CliRunner().invoke(cli, ["access", "check", "--policy-dir", str(policy_dir)])
    assert ok.exit_code == 0 and "valid" in ok.output
    _edit(
        policy_dir / "policy.csv",
        "p, analyst, customers, read, analytics",
        "p, analyst, customers, read, gossip",
    )
    bad = CliRunner().invoke(cli, ["access", "check", "--policy-dir", str(policy_dir)])
    assert bad.exit_code == 1 and "unknown purpose 'gossip'" in bad.output


def test_policy_change_reaches_every_gunicorn_worker(
    policy_dir: Path, cli_env, make_api_key
) -> None:  # type: ignore[no-untyped-def]
    """Real processes: gunicorn with two workers; 16 concurrent requests before and after the
    change (both workers serve some); every request after the change sees it."""
    import http.client
    import socket
    import subprocess
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(cli_env, CDP_POLICY_DIR=str(policy_dir))
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    headers = make_api_key("analyst", "customer_support")

    def status(_: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("GET", "/v1/customers/abc", headers=headers)
        code = conn.getresponse().status
        conn.close()
        return code

    try:
        deadline = time.time() + 30
        while True:
            try:
                status(0)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(status, range(16))) == {403}
            with open(policy_dir / "policy.csv", "a") as fh:
                fh.write("p, analyst, customers, read, customer_support\n")
            assert set(pool.map(status, range(16))) == {404}  # allowed now; no such customer
    finally:
        server.terminate()
        server.wait(timeout=20)

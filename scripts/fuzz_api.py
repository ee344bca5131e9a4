"""Schemathesis against a live gunicorn, one run per role, with real ids.

Bounded: a fixed number of examples per operation, a fixed seed, a timeout per run; every
process it starts is stopped on exit. Exit status 0 only when every run found zero server
errors and zero non-conformance (status codes, content types, headers, response schemas).

    python scripts/fuzz_api.py [--database-url URL] [--examples N] [--timeout SECONDS]

Without ``--database-url`` it makes a SQLite database in a temporary directory; for
PostgreSQL pass an empty, existing database. ``scripts/test`` runs it once (SQLite).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent

# (role, purpose it states by default): three roles with different views and permissions.
ROLES = [
    ("customer_service", "customer_support"),
    ("compliance_officer", "data_subject_request"),
    ("data_steward", "customer_support"),
]
SEED_RECORDS = [
    {
        "source": "jd_health", "source_record_id": f"fuzz-{n}",
        "observed_at": "2026-03-01T10:22:00+08:00",
        "identifiers": [{"type": "phone", "value": f"+86 137 0000 10{n:02d}"},
                        {"type": "email", "value": f"fuzz.{n}@example.com"}],
        "profile": {"name": ["李四", "王五", "赵六"][n % 3], "gender": "male",
                    "birth_date": f"199{n % 10}-01-1{n % 10}", "address": "广东省深圳市南山区"},
        "orders": [{"order_id": f"F{n}", "ordered_at": "2026-03-01T10:00:00+08:00", "total": 20.0,
                    "items": [{"sku": "S2", "name": "维生素C泡腾片", "rx": False, "qty": 1,
                               "unit_price": 20.0}]}],
        "consents": [{"purpose": "marketing", "granted": True, "at": "2026-01-01T00:00:00+08:00"}],
    }
    for n in range(3)
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keys(env: dict[str, str], roles: list[str]) -> dict[str, str]:
    """One API key per role, made in this process (a `cdp keys create` each costs a start-up)."""
    from cdp.access.apikeys import create_key
    from cdp.config import Config
    from cdp.platform import Platform

    platform = Platform(Config.from_env(env))
    try:
        with platform.transaction() as session:
            return {role: create_key(session, role)[1] for role in roles}
    finally:
        platform.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--examples", type=int, default=8, help="examples per operation and role")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per role's run")
    ap.add_argument("--mode", choices=("positive", "negative", "all"), default="all")
    ap.add_argument("--max-time", type=int, default=40, help="time budget per role (s)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cdp-fuzz-"))
    port = _free_port()
    env = {
        **os.environ,
        "CDP_DATABASE_URL": args.database_url or f"sqlite:///{work / 'cdp.db'}",
        "CDP_KEYRING": str(work / "keyring.json"),
        "CDP_POLICY_DIR": str(REPO / "policies"),
        "CDP_EXPORT_DIR": str(work / "exports"),
        "CDP_BIND": f"127.0.0.1:{port}",
        "CDP_WORKERS": "1",
        "CDP_THREADS": "4",
        # The fuzzer is one client sending hundreds of requests a minute: lift the limits
        # (429 is documented and would pass, but it would hide the endpoints behind it).
        "CDP_RATELIMIT": "1000000/minute",
        "CDP_RATELIMIT_CUSTOMER_DATA": "1000000/minute",
        "CDP_RATELIMIT_ANONYMOUS": "1000000/minute",
        "CDP_RATELIMIT_ANONYMOUS_GLOBAL": "1000000/minute",
        # No network: schemathesis must not phone home.
        "SCHEMATHESIS_TELEMETRY": "false",
        "SCHEMATHESIS_HOSTS_PATH": str(work / "hosts.toml"),
    }
    subprocess.run([str(BIN / "cdp"), "init"], env=env, check=True, capture_output=True,
                   timeout=300)
    keys = _keys(env, [role for role, _ in ROLES] + ["ingest_service"])
    ingest_key = keys["ingest_service"]
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py"),
         "--error-logfile", str(work / "gunicorn.log")],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=(work / "app.log").open("wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    failures = 0
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print("gunicorn did not start", file=sys.stderr)
                return 2
            time.sleep(0.3)
        r = requests.post(f"{base}/v1/records", json=SEED_RECORDS, timeout=120,
                          headers={"Authorization": f"Bearer {ingest_key}"})
        r.raise_for_status()
        customers = sorted({x["customer_id"] for x in r.json()["results"]})
        officer = {"Authorization": f"Bearer {keys['compliance_officer']}",
                   "X-Purpose-Of-Use": "data_subject_request"}
        dsr = requests.post(f"{base}/v1/dsr", json={"customer_id": customers[0], "kind": "access"},
                            headers=officer, timeout=60).json()["id"]
        print(f"seeded {len(customers)} customers, DSR {dsr}; {args.examples} examples per "
              f"operation and role", flush=True)
        for i, (role, purpose) in enumerate(ROLES):
            config = work / f"schemathesis-{role}.toml"
            # Real ids: every path parameter names something that exists.
            config.write_text(
                f'headers = {{ Authorization = "Bearer {keys[role]}" }}\n'
                # A fuzzed batch of records can take seconds to ingest, and on SQLite every
                # other request waits for it (one writer): what a fuzzer sends is no
                # latency benchmark (scripts/bench/ has those).
                "checks.max_response_time = 60\n"
                "[parameters]\n"
                f'"path.customer_id" = "{customers[i % len(customers)]}"\n'
                f'"path.dsr_id" = "{dsr}"\n'
                # A lookup value valid for the schema (a string) may still not be an
                # identifier of the stated type (`x` as an email): 422 invalid_identifier is
                # the documented answer, a check the schema cannot express per type.
                "[[operations]]\n"
                'include-name = "GET /v1/customers"\n'
                'checks.positive_data_acceptance.expected-statuses = '
                '["2XX", 401, 403, 404, 409, 422, 429]\n'
                # `open_dsr` opens a data subject request only for a privacy complaint: the
                # schema cannot tie one field to another's value, so a schema-valid
                # `open_dsr` on another category is refused with 422 not_privacy.
                "[[operations]]\n"
                'include-name = "POST /v1/crm/complaints"\n'
                'checks.positive_data_acceptance.expected-statuses = '
                '["2XX", 401, 403, 404, 409, 422, 429]\n'
                # A batch is answered per record (docs/api.md): an invalid record is
                # rejected in a 200 answer while the valid ones are stored.
                "[[operations]]\n"
                'include-name = "POST /v1/records"\n'
                'checks.negative_data_rejection.expected-statuses = '
                '[200, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429]\n'
            )
            cmd = [
                str(BIN / "schemathesis"), "--config-file", str(config),
                "run", f"{base}/v1/openapi.json",
                "--checks", "all",
                "--mode", args.mode,
                "--max-examples", str(args.examples),
                "--seed", str(1000 + i),
                "--generation-database", "none",
                "--request-timeout", "30",
                # One at a time: SQLite has one writer, and hypothesis's source inspection
                # is not safe in threads on every Python (an internal error, not the API's).
                "--workers", "1",
                "--max-time", str(args.max_time),
                "--no-color",
            ]
            print(f"--- {role} ({purpose}) ---", flush=True)
            try:
                run = subprocess.run(cmd, check=False, env=env, timeout=args.timeout,
                                     capture_output=True,
                                     text=True)
            except subprocess.TimeoutExpired:
                print(f"{role}: schemathesis did not finish in {args.timeout} s", flush=True)
                failures += 1
                continue
            tail = "\n".join(run.stdout.strip().splitlines()[-25:])
            print(tail, flush=True)
            if run.returncode != 0:
                failures += 1
                (work / f"schemathesis-{role}.log").write_text(run.stdout + run.stderr)
                print(f"{role}: FAILED (full output: {work}/schemathesis-{role}.log)", flush=True)
        app_log = (work / "app.log").read_text(errors="replace")
        if " unhandled " in app_log:
            print("the application logged unhandled errors", flush=True)
            failures += 1
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)
    print(json.dumps({"roles": len(ROLES), "failed_runs": failures, "workdir": str(work)}))
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

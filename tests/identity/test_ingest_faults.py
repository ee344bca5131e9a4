"""Ingest under hostile input and faults: deep nesting, re-sends that go back in time,
re-ingesting the same file, and a `cdp ingest` killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from cdp.cli import cli
from cdp.identity.models import IdentityLink, SourceRecord
from tests.identity.identity_records import rec, write_jsonl

CDP = str(Path(sys.executable).with_name("cdp"))


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _run(cli_env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _count_links(platform: Any) -> int:
    with platform.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(IdentityLink)) or 0)


def test_deeply_nested_record_is_rejected_over_http_and_the_rest_stored(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    headers = make_api_key("ingest_service")
    deep_profile = rec("app", "deep-1", [("member_id", "D1")], notes=_deep(255))
    deep_extra = dict(rec("app", "deep-2", [("member_id", "D2")]), extra_field=_deep(255))
    good = rec("app", "good-1", [("member_id", "G1")], name="张三")
    r = client.post("/v1/records", json=[deep_profile, good, deep_extra], headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    statuses = [x["status"] for x in r.get_json()["results"]]
    assert statuses == ["rejected", "created", "rejected"]
    reasons = [x.get("reason", "") for x in r.get_json()["results"]]
    assert "nested deeper" in reasons[0] and "profile" in reasons[0]
    assert "extra_field" in reasons[2]


def test_deeply_nested_line_goes_to_the_rejects_file_and_the_batch_goes_in(
        cli_env, platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_jsonl(tmp_path / "f.jsonl", [
        rec("app", "a", [("member_id", "A")]),
        rec("app", "deep", [("member_id", "B")], notes=_deep(300)),
        rec("app", "c", [("member_id", "C")]),
    ])
    for _ in range(2):  # and the same on a rerun
        out = _run(cli_env, "ingest", "--workers", "0", str(path))
        assert "rejected 1" in out
        rejects = [json.loads(x) for x in Path(f"{path}.rejects.jsonl").read_text().splitlines()]
        assert [x["line"] for x in rejects] == [2] and "nested deeper" in rejects[0]["reason"]
    with platform.transaction() as s:
        assert sorted(s.scalars(select(SourceRecord.source_record_id))) == ["a", "c"]


def test_reingesting_a_file_with_resends_changes_nothing(cli_env, platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A record re-sent later in the file (newer ``observed_at``) wins; ingesting the file again
    neither updates it back and forth nor adds links."""
    old = dict(rec("app", "r1", [("member_id", "M1")], name="张三"),
               observed_at="2025-03-01T10:00:00+08:00")
    new = dict(rec("app", "r1", [("member_id", "M1")], name="张三丰"),
               observed_at="2025-03-02T10:00:00+08:00")
    others = [rec("app", f"o{i}", [("member_id", f"O{i}")]) for i in range(5)]
    path = write_jsonl(tmp_path / "day.jsonl", [old, *others, new])
    _run(cli_env, "ingest", "--workers", "0", "--batch-size", "3", str(path))
    links = _count_links(platform)
    again = _run(cli_env, "ingest", "--workers", "0", "--batch-size", "3", str(path))
    assert "updated 0" in again and "created 0" in again
    assert _count_links(platform) == links


def test_an_older_version_arriving_later_changes_nothing(platform, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    headers = make_api_key("ingest_service")
    newer = dict(rec("app", "r1", [("member_id", "M1")], name="张三丰"),
                 observed_at="2025-03-02T10:00:00+08:00")
    older = dict(rec("app", "r1", [("member_id", "M1")], name="张三"),
                 observed_at="2025-03-01T10:00:00+08:00")
    assert client.post("/v1/records", json=[newer], headers=headers).status_code == 200
    with platform.transaction() as s:
        before = s.execute(select(SourceRecord.content_hmac, SourceRecord.updated_at)).one()
    r = client.post("/v1/records", json=[older], headers=headers)
    assert r.get_json()["results"][0]["status"] == "unchanged"
    with platform.transaction() as s:
        assert s.execute(select(SourceRecord.content_hmac, SourceRecord.updated_at)).one() == before


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_kill_9_of_ingest_leaves_no_worker_and_a_rerun_completes(cli_env, platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # pairs of records that are one person each (shared member id): the expected outcome
    records = []
    for i in range(1500):
        records.append(rec("jd_health", f"jd-{i}", [("member_id", f"M{i}")], name="王伟"))
        records.append(rec("app", f"app-{i}", [("member_id", f"M{i}")]))
    path = write_jsonl(tmp_path / "big.jsonl", records)
    proc = subprocess.Popen([CDP, "ingest", "--workers", "1", "--batch-size", "200", str(path)],
                            env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and not workers and proc.poll() is None:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert workers, "the ingest worker never started"
        time.sleep(1.0)  # let it get going
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "an ingest worker outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _run(cli_env, "ingest", "--workers", "1", "--batch-size", "200", str(path))
    with platform.transaction() as s:
        pairs = s.execute(select(SourceRecord.source_record_id, SourceRecord.customer_id)).tuples()
        owner = dict(pairs.all())
    assert len(owner) == 3000
    for i in range(1500):
        assert owner[f"jd-{i}"] == owner[f"app-{i}"]
    assert len(set(owner.values())) == 1500
    assert _count_links(platform) >= 3000

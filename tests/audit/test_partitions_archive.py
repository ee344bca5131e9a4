"""A partitioned audit log (PostgreSQL): month partitions, archive to signed segment files,
verification that continues from the archived end, and segment files that verify alone."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from cdp.audit import log as audit_log
from cdp.audit.archive import ArchiveError, archive_before, partitions, verify_segment_file
from cdp.cli import cli
from cdp.db import is_postgres
from cdp.platform import Platform
from tests.audit.helpers import run_verify, tamper, write_entries


def _month(dt: datetime, delta: int = 0) -> datetime:
    y, m = divmod(dt.year * 12 + dt.month - 1 + delta, 12)
    return datetime(y, m + 1, 1, tzinfo=UTC)


def _pg_only(platform: Platform) -> None:
    if not is_postgres(platform.engine):
        pytest.skip("SQLite keeps one unpartitioned audit table")


def _make_partition(platform: Platform, start: datetime) -> str:
    """As the owner, a partition for a past month (the ensure function makes only the current
    month and those ahead), so the test can write entries into a month that is already over."""
    name = f"audit_events_{start:%Y_%m}"
    with platform.engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF audit_events FOR VALUES FROM "
                f"('{start.isoformat()}') TO ('{_month(start, 1).isoformat()}')"
            )
        )
    return name


def _write_at(platform: Platform, monkeypatch: pytest.MonkeyPatch, when: datetime, n: int) -> None:
    monkeypatch.setattr(audit_log, "utcnow", lambda: when)
    write_entries(platform, n)
    monkeypatch.undo()


def test_months_are_partitions_and_each_stays_append_only(platform: Platform, db_url: str) -> None:
    _pg_only(platform)
    now = datetime.now(UTC)
    with platform.transaction() as s:
        names = [p.name for p in partitions(s)]
    # The current month and three ahead exist already (the migration made them).
    for k in range(4):
        assert f"audit_events_{_month(now, k):%Y_%m}" in names
    write_entries(platform, 3)
    current = f"audit_events_{now:%Y_%m}"
    with platform.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {current}")).scalar() == 3
    # The owner cannot rewrite or empty a partition directly either.
    for sql in (f"UPDATE {current} SET actor = 'x'", f"DELETE FROM {current}", f"TRUNCATE {current}"):
        with pytest.raises(Exception, match="append-only"), platform.engine.begin() as conn:
            conn.execute(text(sql))
    # The service role reads a partition but may not write to it around the parent.
    dbname = db_url.rsplit("/", 1)[1]
    with psycopg.connect(f"postgresql://cdp_app@127.0.0.1:5432/{dbname}") as conn:
        assert conn.execute(f"SELECT count(*) FROM {current}").fetchone() == (3,)
        for sql in (
            f"DELETE FROM {current}",
            f"TRUNCATE {current}",
            f"INSERT INTO {current} SELECT * FROM {current}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
            conn.rollback()
        # ... and keeps the months ahead made (the scheduled checkpoint job calls this).
        conn.execute("SELECT cdp_audit_ensure_partitions(5)")
        conn.commit()
    with platform.transaction() as s:
        assert f"audit_events_{_month(now, 5):%Y_%m}" in {p.name for p in partitions(s)}


def test_archive_writes_a_segment_detaches_and_verify_continues(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(platform)
    now = datetime.now(UTC)
    old = _month(now, -2)
    old_part = _make_partition(platform, old)
    _write_at(platform, monkeypatch, old + timedelta(days=3), 40)
    res = CliRunner().invoke(cli, ["audit", "checkpoint"], env=cli_env)
    assert res.exit_code == 0, res.output
    write_entries(platform, 10)  # this month: stays live

    res = CliRunner().invoke(
        cli,
        ["audit", "archive", "--before", f"{_month(now, -1):%Y-%m}", "--out", str(tmp_path), "--drop"],
        env=cli_env,
    )
    assert res.exit_code == 0, res.output
    segment = Path(res.stdout.strip())
    assert segment.name == f"audit-segment-{_month(now, -1):%Y-%m}.jsonl.gz"
    assert "archived 40 entries" in res.stderr
    with platform.transaction() as s:
        assert old_part not in {p.name for p in partitions(s)}
    with platform.engine.connect() as conn:  # dropped: the 40 entries left the database
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 11
        assert conn.execute(text(f"SELECT to_regclass('{old_part}')")).scalar() is None

    code, out = run_verify(cli_env)
    assert code == 0, out
    assert "continuing from 1 archived segments (40 entries)" in out
    write_entries(platform, 5)
    code, out = run_verify(cli_env)
    assert code == 0, out

    # The segment file verifies with no database at all, under the keyring's public key.
    pub = CliRunner().invoke(cli, ["audit", "public-key"], env=cli_env).output.strip()
    res = CliRunner().invoke(cli, ["audit", "verify-segment", str(segment), "--public-key", pub])
    assert res.exit_code == 0, res.output
    assert "40 entries" in res.output and "intact" in res.output

    # A live entry altered after the archive is still named.
    with platform.engine.connect() as conn:
        victim = conn.execute(text("SELECT max(id) FROM audit_events WHERE actor LIKE 'apikey:%'")).scalar()
    tamper(platform, "UPDATE audit_events SET actor = 'apikey:other' WHERE id = :i", i=victim)
    code, out = run_verify(cli_env)
    assert code == 1 and f"entry id={victim}" in out


def test_a_changed_segment_file_fails_on_its_own(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(platform)
    now = datetime.now(UTC)
    old = _month(now, -3)
    _make_partition(platform, old)
    _write_at(platform, monkeypatch, old + timedelta(days=1), 12)
    with platform.transaction() as s:
        res = archive_before(s, _month(now, -2), tmp_path, platform.keyring.signing_key)
    key = platform.keyring.verify_key
    assert verify_segment_file(res.path, key).ok
    lines = gzip.decompress(res.path.read_bytes()).splitlines(keepends=True)

    def variant(name: str, new_lines: list[bytes]) -> Path:
        p = tmp_path / name
        p.write_bytes(gzip.compress(b"".join(new_lines)))
        return p

    # An entry's reader changed (hash no longer matches; the digest neither).
    assert b'"apikey:test' in lines[4]
    changed = lines[4].replace(b'"apikey:test', b'"apikey:else')
    altered = variant("altered.jsonl.gz", [*lines[:4], changed, *lines[5:]])
    check = verify_segment_file(altered, key)
    assert not check.ok and "digest" in check.problems[0]
    # An entry removed.
    assert not verify_segment_file(variant("cut.jsonl.gz", lines[:3] + lines[4:]), key).ok
    # Signed by another key.
    from cdp.crypto.keyring import Keyring

    assert "signature" in verify_segment_file(res.path, Keyring.generate().verify_key).problems[0]
    # The CLI says so and exits 1.
    out = CliRunner().invoke(cli, ["audit", "verify-segment", str(altered)])
    assert out.exit_code == 1 and "BAD" in out.output


def test_an_entry_stamped_before_its_predecessor_at_the_month_boundary(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer takes ``at`` before it picks a chain, so an entry can carry a time a little
    before its predecessor's, across a month boundary. The segment takes it from the live
    month; the live verify skips it; nothing is lost or counted twice."""
    _pg_only(platform)
    monkeypatch.setattr(audit_log, "PG_CHAINS", 1)
    now = datetime.now(UTC)
    old, boundary = _month(now, -2), _month(now, -1)
    _make_partition(platform, old)
    _make_partition(platform, boundary)
    _write_at(platform, monkeypatch, boundary - timedelta(seconds=5), 3)  # seq 1-3, old month
    monkeypatch.setattr(audit_log, "PG_CHAINS", 1)
    _write_at(platform, monkeypatch, boundary + timedelta(milliseconds=1), 1)  # seq 4, next month
    monkeypatch.setattr(audit_log, "PG_CHAINS", 1)
    _write_at(platform, monkeypatch, boundary - timedelta(milliseconds=1), 1)  # seq 5, old month
    monkeypatch.setattr(audit_log, "PG_CHAINS", 1)
    _write_at(platform, monkeypatch, boundary + timedelta(seconds=1), 2)  # seq 6-7
    with platform.transaction() as s:
        res = archive_before(s, boundary, tmp_path, platform.keyring.signing_key, drop=True)
    assert res.entries == 5  # seq 1-5, seq 4 taken from the live month
    check = verify_segment_file(res.path, platform.keyring.verify_key)
    assert check.ok, check.problems
    assert check.statement["ends"] == {"0": [5, check.statement["ends"]["0"][1]]}
    code, out = run_verify(cli_env)
    assert code == 0, out
    assert "intact: 2 entries" in out  # seq 6 and 7; seq 4, still live, is in the segment


def test_archive_refuses_what_it_must_not_do(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(platform)
    now = datetime.now(UTC)
    with platform.transaction() as s, pytest.raises(ArchiveError, match="not all over"):
        archive_before(s, _month(now, 1), tmp_path, platform.keyring.signing_key)
    with platform.transaction() as s, pytest.raises(ArchiveError, match="nothing to archive"):
        archive_before(s, _month(now, -1), tmp_path, platform.keyring.signing_key)
    old = _month(now, -2)
    part = _make_partition(platform, old)
    _write_at(platform, monkeypatch, old + timedelta(days=2), 6)
    with platform.engine.connect() as conn:
        victim = conn.execute(text(f"SELECT min(id) + 2 FROM {part}")).scalar()
    tamper(platform, "UPDATE audit_events SET purpose = 'marketing' WHERE id = :i", i=victim)
    with platform.transaction() as s, pytest.raises(ArchiveError, match=f"id={victim}"):
        archive_before(s, _month(now, -1), tmp_path, platform.keyring.signing_key)
    with platform.transaction() as s:  # nothing detached
        assert part in {p.name for p in partitions(s)}


def test_archive_on_sqlite_is_refused_with_a_reason(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path
) -> None:
    if is_postgres(platform.engine):
        pytest.skip("the SQLite refusal")
    res = CliRunner().invoke(
        cli, ["audit", "archive", "--before", "2020-01", "--out", str(tmp_path)], env=cli_env
    )
    assert res.exit_code == 1 and "needs PostgreSQL" in res.output
    res = CliRunner().invoke(
        cli, ["audit", "archive", "--before", "2020-13", "--out", str(tmp_path)], env=cli_env
    )
    assert res.exit_code != 0 and "YYYY-MM" in res.output


def test_verify_reports_progress_when_asked(
    platform: Platform, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdp.audit import verify

    monkeypatch.setattr(verify, "_TICK", 5)
    write_entries(platform, 23, per_tx=23)
    res = CliRunner().invoke(cli, ["audit", "verify", "--progress", "--workers", "1"], env=cli_env)
    assert res.exit_code == 0, res.output
    assert "verifying" in res.stderr and "~23 entries" in res.stderr
    assert res.stdout.startswith("audit log intact: 23 entries")
    quiet = CliRunner().invoke(cli, ["audit", "verify"], env=cli_env)  # not a terminal
    assert "verifying" not in quiet.stderr


def test_partitions_command_keeps_months_ahead_and_lists_them(
    cli_env: dict[str, str], platform: Platform
) -> None:
    res = CliRunner().invoke(cli, ["audit", "partitions", "--ahead", "6"], env=cli_env)
    assert res.exit_code == 0, res.output
    if not is_postgres(platform.engine):
        assert "not partitioned" in res.stdout
        return
    now = datetime.now(UTC)
    listed = [line.split("\t")[0] for line in res.stdout.splitlines()]
    assert listed[-1] == f"audit_events_{_month(now, 6):%Y_%m}"
    assert f"audit_events_{now:%Y_%m}" in listed
    assert "3 partitions made" in res.stderr  # months 4, 5 and 6 ahead; the rest existed
    again = CliRunner().invoke(cli, ["audit", "partitions", "--ahead", "6"], env=cli_env)
    assert "0 partitions made" in again.stderr


def test_two_archives_in_a_row_chain_together_and_a_forged_one_is_named(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(platform)
    now = datetime.now(UTC)
    first, second = _month(now, -3), _month(now, -2)
    _make_partition(platform, first)
    _make_partition(platform, second)
    _write_at(platform, monkeypatch, first + timedelta(days=1), 9)
    _write_at(platform, monkeypatch, second + timedelta(days=1), 7)
    write_entries(platform, 3)
    files = []
    for before in (second, _month(now, -1)):
        res = CliRunner().invoke(
            cli,
            ["audit", "archive", "--before", f"{before:%Y-%m}", "--out", str(tmp_path)],
            env=cli_env,
        )
        assert res.exit_code == 0, res.output
        files.append(res.stdout.strip())
    code, out = run_verify(cli_env)
    assert code == 0 and "continuing from 2 archived segments (16 entries)" in out, out
    res = CliRunner().invoke(cli, ["audit", "verify-segment", *files])
    assert res.exit_code == 0 and res.output.count("intact") == 2, res.output
    # Out of order, they do not follow each other.
    res = CliRunner().invoke(cli, ["audit", "verify-segment", files[1], files[0]])
    assert res.exit_code == 1 and "does not follow" in res.output

    # A segment row forged by someone without the signing key (it would move every chain's
    # start past entries they want hidden) is named, and verify fails.
    from cdp.audit.models import AuditSegment
    from cdp.crypto.keyring import Keyring

    with platform.transaction() as s:
        last = s.scalars(select(AuditSegment).order_by(AuditSegment.id.desc()).limit(1)).first()
        assert last is not None
        s.add(
            AuditSegment(
                before=last.before,
                file_name="forged.jsonl.gz",
                entry_count=1,
                ends=last.ends,
                statement=last.statement,
                signature=Keyring.generate().signing_key.sign(last.statement.encode()),
            )
        )
    code, out = run_verify(cli_env)
    assert code == 1 and "forged.jsonl.gz" in out and "signature does not verify" in out


def test_progress_is_reported_by_the_parallel_workers_too(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(platform)
    from cdp.audit import verify

    monkeypatch.setattr(verify, "_TICK", 4)
    write_entries(platform, 30, per_tx=10)
    seen: list[int] = []
    with platform.transaction() as s:
        res = verify.verify_log(
            s, platform.keyring.verify_key, workers=2, parallel_above=0, progress=seen.append
        )
    assert res.ok and res.entries == 30
    assert seen and seen == sorted(seen) and seen[-1] == 30

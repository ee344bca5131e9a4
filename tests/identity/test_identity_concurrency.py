"""Two real `cdp ingest` processes on overlapping files end where one process would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cdp.identity.models import SourceRecord
from cdp.identity.pipeline import ingest_records
from cdp.identity.records import parse_line
from cdp.platform import Platform, upgrade_schema
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="advisory locks: PostgreSQL only")

CDP = str(Path(sys.executable).parent / "cdp")


def partition(platform: Platform) -> tuple[int, set[frozenset[str]]]:
    with platform.transaction() as s:
        rows = list(s.execute(select(SourceRecord.source, SourceRecord.source_record_id,
                                     SourceRecord.customer_id)))
    groups: dict[str, set[str]] = {}
    for src, rid, cid in rows:
        groups.setdefault(cid, set()).add(f"{src}|{rid}")
    return len(rows), {frozenset(g) for g in groups.values()}


def test_two_processes_same_customers_as_one(cli_env, config, platform, tmp_path: Path) -> None:
    from scripts.generate_records import generate

    path = tmp_path / "recs.jsonl"
    generate(40, 11, path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    half = len(lines) // 2
    # overlapping halves; the second process meets the overlap in reverse order
    part1, part2 = tmp_path / "p1.jsonl", tmp_path / "p2.jsonl"
    part1.write_text("".join(lines[: half + 30]), encoding="utf-8")
    part2.write_text("".join(reversed(lines[half - 30 :])), encoding="utf-8")
    procs = [subprocess.Popen([CDP, "ingest", "--batch-size", "10", str(p)], env=cli_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in (part1, part2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    n_both, both = partition(platform)

    # the same files, one after the other, in this process, on a fresh database
    import psycopg
    from psycopg import sql

    from tests.conftest import PG_ADMIN, PG_URL_BASE

    name = config.database_url.rsplit("/", 1)[1] + "_one"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    one_platform = None
    try:
        upgrade_schema(PG_URL_BASE + name)
        one_platform = Platform(config.with_overrides({"database_url": PG_URL_BASE + name}))
        for p in (part1, part2):
            items = [(n, parse_line(line)) for n, line in enumerate(p.read_text().splitlines(), 1)
                     if line.strip()]
            ingest_records(one_platform, items, actor="test", batch_size=10)
        n_one, one = partition(one_platform)
    finally:
        if one_platform is not None:
            one_platform.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    assert n_both == n_one > 50  # every record exactly once: no duplicates from the race
    assert both == one

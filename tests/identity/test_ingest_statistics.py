"""A bulk ingest keeps the planner's statistics and the visibility maps of the tables it
grows (PostgreSQL).

With no statistics (autovacuum off, as on this test server, or behind a fast load) PostgreSQL
reads whole tables for ``customer_id = ANY(:ids)``; the candidate loads of every batch then
cost in proportion to the database. Without a visibility map every holder a blocking-key
lookup returns costs a read of the table beside the index. The ingest analyzes a table once
its changes outgrow its last statistics and vacuums it by autovacuum's insert rule
(cdp/db/stats.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from cdp.db.stats import due_tables, stale_tables
from cdp.identity.pipeline import IngestSummary, ingest_lines
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="planner statistics: PostgreSQL only")


def _analyzed(platform: Any, table: str) -> bool:
    with platform.engine.connect() as c:
        return c.execute(text(
            "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL"
            " FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}).scalar_one()


def _all_visible_pages(platform: Any, table: str) -> int:
    """Pages of ``table`` the visibility map marks all-visible (as of its last VACUUM)."""
    with platform.engine.connect() as c:
        return c.execute(text("SELECT relallvisible FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                         {"t": table}).scalar_one()


def _distinct_customers(platform: Any) -> float | None:
    """What the planner knows of how many customers match_keys holds (None: nothing)."""
    with platform.engine.connect() as c:
        return c.execute(text(
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'match_keys'"
            " AND attname = 'customer_id'")).scalar_one_or_none()


def test_ingest_analyzes_and_vacuums_the_tables_it_grew(platform, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from scripts.generate_records import generate

    # a smaller floor than a real load's, so that a test-sized load crosses it
    monkeypatch.setattr("cdp.db.stats.MIN_CHANGED", 500)
    path = tmp_path / "recs.jsonl"
    generate(400, 5, path)
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
    half = len(lines) // 2

    def ingest(part: list[tuple[int, str]]) -> None:
        ingest_lines(platform, iter(part), actor="test", on_reject=lambda n, r: None,
                     batch_size=500, summary=IngestSummary(), workers=0)

    ingest(lines[:half])
    # A backend reports its row counts to the statistics system at most once a second, so
    # a load of a few short batches may finish before they show; a real load's batches take
    # seconds each. Wait until they show, as the next batch of a long load would find them.
    deadline = time.monotonic() + 30
    while True:
        with platform.engine.connect() as c:
            if "match_keys" in stale_tables(c):
                break
        assert time.monotonic() < deadline, "row counts never reached pg_stat_user_tables"
        time.sleep(0.5)
    assert not _analyzed(platform, "match_keys") and _distinct_customers(platform) is None
    with platform.engine.connect() as c:
        due = {d.table: d for d in due_tables(c)}
    assert due["match_keys"].vacuum and due["match_keys"].analyze
    assert _all_visible_pages(platform, "match_keys") == 0
    ingest(lines[half:])
    # the next batch analyzed what the first half grew: the planner now knows that a
    # customer has a few rows, not a share of the table
    assert _analyzed(platform, "match_keys") and _analyzed(platform, "identifiers")
    assert _distinct_customers(platform) is not None
    # and vacuumed it: the blocking-key lookups' index-only scans can skip its table pages
    assert _all_visible_pages(platform, "match_keys") > 0
    assert _all_visible_pages(platform, "identifiers") > 0


def test_the_service_role_never_tries_to_analyze(platform, db_url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """cdp_app owns no table: PostgreSQL would skip each ANALYZE with a warning, every batch.
    Stale tables it may not analyze are not even named."""
    from sqlalchemy import create_engine

    from scripts.generate_records import generate

    path = tmp_path / "recs.jsonl"
    generate(100, 3, path)
    ingest_lines(platform, enumerate(path.read_text(encoding="utf-8").splitlines(), start=1),
                 actor="test", on_reject=lambda n, r: None, batch_size=500,
                 summary=IngestSummary(), workers=0)
    deadline = time.monotonic() + 30
    while True:  # stale for the owner (see above for the wait)
        with platform.engine.connect() as c:
            if "match_keys" in stale_tables(c, min_changed=1):
                break
        assert time.monotonic() < deadline, "row counts never reached pg_stat_user_tables"
        time.sleep(0.5)
    app = create_engine(db_url.replace("://postgres@", "://cdp_app@"))
    try:
        with app.connect() as c:
            assert c.execute(text("SELECT current_user")).scalar_one() == "cdp_app"
            assert stale_tables(c, min_changed=1) == []
    finally:
        app.dispose()

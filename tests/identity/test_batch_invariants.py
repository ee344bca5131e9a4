"""After a generated multi-channel file goes in through many small batches (cached evidence,
merges of stored customers written together at the end of each batch), the stored state is
consistent: one active link per record, on the record's customer; no row, key or merge
pointer left on a merged customer; every merge in the lineage with the records it moved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cdp.identity.pipeline import ingest_records
from cdp.identity.records import parse_line


def test_generated_file_in_small_batches_leaves_consistent_state(platform, tmp_path: Path) -> None:
    from scripts.generate_records import generate

    path = tmp_path / "records.jsonl"
    generate(400, 11, path)
    with open(path, encoding="utf-8") as f:
        items = [(n, parse_line(line)) for n, line in enumerate(f, 1)]
    summary = ingest_records(platform, items, actor="test", batch_size=60)
    assert summary.accepted == len(items) and summary.merges > 0

    with platform.transaction() as s:
        def q(sql: str) -> Any:
            return s.execute(text(sql)).scalar_one()

        assert q("SELECT count(*) FROM source_records r WHERE (SELECT count(*) FROM identity_links l"
                 " WHERE l.record_id = r.id AND l.ended_at IS NULL) <> 1") == 0
        assert q("SELECT count(*) FROM identity_links l JOIN source_records r ON r.id = l.record_id"
                 " WHERE l.ended_at IS NULL AND l.customer_id <> r.customer_id") == 0
        for table in ("source_records", "identifiers", "match_keys", "data_keys", "consents",
                      "interactions"):
            assert q(f"SELECT count(*) FROM {table} x JOIN customers c ON c.id = x.customer_id"
                     " WHERE c.status <> 'active'") == 0, table
        assert q("SELECT count(*) FROM customers a JOIN customers b ON a.merged_into = b.id"
                 " WHERE a.status = 'merged' AND b.status <> 'active'") == 0
        assert q("SELECT count(*) FROM customers WHERE status = 'merged' AND merged_into IS NULL") == 0
        merged = s.execute(text("SELECT record_ids FROM lineage_events WHERE kind = 'merged'")).all()
        moved = [r for (ids,) in merged for r in (json.loads(ids) if isinstance(ids, str) else ids)]
        relinked = q("SELECT count(*) FROM identity_links WHERE rule LIKE 'merge:%'")
    assert len(merged) == summary.merges
    assert relinked <= len(moved)
    assert len(moved) - relinked <= summary.updated  # a record updated in its batch relinks itself


def test_a_derived_row_cannot_leave_its_records_customer(platform, tmp_path: Path) -> None:
    """Identifiers, match keys and interactions reference (record, customer): pointing one at
    another customer, even an existing one, is refused by the database itself."""
    from scripts.generate_records import generate

    path = tmp_path / "records.jsonl"
    generate(40, 5, path)
    with open(path, encoding="utf-8") as f:
        items = [(n, parse_line(line)) for n, line in enumerate(f, 1)]
    ingest_records(platform, items, actor="test", batch_size=100)
    for table in ("identifiers", "match_keys", "interactions"):
        with pytest.raises(IntegrityError), platform.transaction() as s:
            moved = s.execute(text(
                f"UPDATE {table} SET customer_id = (SELECT min(c.id) FROM customers c"
                f" WHERE c.id <> {table}.customer_id)"
                f" WHERE id = (SELECT min(id) FROM {table})")).rowcount
            assert moved == 1
            s.flush()

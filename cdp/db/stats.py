"""Planner statistics of the tables a bulk ingest grows (PostgreSQL).

Without statistics PostgreSQL guesses that ``customer_id = ANY(:ids)`` matches a large share
of a table, and reads the whole table instead of the index: on a database grown by a bulk
ingest the candidate loads and an update's deletes then cost time in proportion to the
database, every batch. autovacuum keeps statistics fresh when it runs, but it may be off
(test and CI servers often turn it off) and it runs on its own schedule, behind a fast
ingest. So the ingest analyzes what it has grown
itself, by autovacuum's rule with a larger scale factor: a table whose rows changed since
its last analyze exceed ``THRESHOLD`` plus ``SCALE`` times its size, that is each time it has
about doubled. Statistics need not follow every 10 % of growth as autovacuum's do: the
planner scales the row counts they give by the table's current size in pages, so what a
bulk load needs is statistics that exist and describe its shape (rows per customer). ANALYZE
reads a fixed sample (30,000 rows at the default statistics target), a fraction of a second
whatever the size, about 8 times per table from 10,000 changed rows to 3 million.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text

log = logging.getLogger(__name__)

# autovacuum_analyze_threshold's default; autovacuum_analyze_scale_factor's is 0.1
THRESHOLD = 50
SCALE = 1.0
# below this many changed rows a table is left to autovacuum: a small ingest never analyzes
MIN_CHANGED = 10_000

# Only tables this role may analyze (their owner's, or any as a superuser): PostgreSQL
# skips the others with a warning, which every batch would repeat. The service role
# (cdp_app) owns none, so an ingest run with it leaves statistics to autovacuum.
_STALE_SQL = text(
    "SELECT s.relid::regclass::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze >= :min_changed"
    " AND s.n_mod_since_analyze > :threshold + :scale"
    " * greatest(s.n_live_tup - s.n_mod_since_analyze, 0)"
    " AND (pg_has_role(c.relowner, 'USAGE')"
    " OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))"
    " ORDER BY s.relid"
)


def stale_tables(conn: Any, *, min_changed: int | None = None) -> list[str]:
    """Tables of the current schema whose statistics the changes since their last analyze
    have outgrown (autovacuum's rule, with ``min_changed``, default ``MIN_CHANGED``, as a
    floor)."""
    floor = MIN_CHANGED if min_changed is None else min_changed
    return list(conn.execute(_STALE_SQL, {"min_changed": floor, "threshold": THRESHOLD,
                                          "scale": SCALE}).scalars())


def analyze_stale(engine: Any, *, min_changed: int | None = None) -> list[str]:
    """ANALYZE the tables ``stale_tables`` names (only those this role may analyze), each in
    its own short transaction; returns them. PostgreSQL only: SQLite's planner prefers the
    index unaided."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        tables = stale_tables(conn, min_changed=min_changed)
    for table in tables:
        with engine.begin() as conn:
            # a name from pg_stat_user_tables, quoted by regclass::text: not user input
            conn.exec_driver_sql(f"ANALYZE {table}")
    if tables:
        log.info("analyzed %d grown tables: %s", len(tables), ", ".join(tables))
    return tables

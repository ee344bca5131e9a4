"""Planner statistics and visibility maps of the tables a bulk ingest grows (PostgreSQL).

Without statistics PostgreSQL guesses that ``customer_id = ANY(:ids)`` matches a large share
of a table, and reads the whole table instead of the index: on a database grown by a bulk
ingest the candidate loads and an update's deletes then cost time in proportion to the
database, every batch. autovacuum keeps statistics fresh when it runs, but it may be off
(test and CI servers often turn it off) and it runs on its own schedule, behind a fast
ingest. So the ingest analyzes what it has grown itself, by autovacuum's rule with a larger
scale factor: a table whose rows changed since its last analyze exceed ``THRESHOLD`` plus
``SCALE`` times its size, that is each time it has about doubled. Statistics need not follow
every 10 % of growth as autovacuum's do: the planner scales the row counts they give by the
table's current size in pages, so what a bulk load needs is statistics that exist and
describe its shape (rows per customer). ANALYZE reads a fixed sample (30,000 rows at the
default statistics target), a fraction of a second whatever the size.

It also vacuums, by autovacuum's insert rule (``VACUUM_THRESHOLD`` plus ``VACUUM_SCALE``
times the table's size inserted since the last vacuum; the defaults of
``autovacuum_vacuum_insert_*``). The blocking-key lookup reads kind, value and customer from
one index, and an index-only scan skips the table only on pages the visibility map marks
all-visible, which only VACUUM sets. Unvacuumed, each holder of a key costs a read of a
random table page: most of the server's reading late in a million-customer load. A VACUUM
of an insert-mostly table reads only the pages added since the last one and, with dead rows
on under 2 % of the pages, skips the indexes, so its cost follows the growth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

log = logging.getLogger(__name__)

# autovacuum_analyze_threshold's default; autovacuum_analyze_scale_factor's is 0.1
THRESHOLD = 50
SCALE = 1.0
# autovacuum_vacuum_insert_threshold's and autovacuum_vacuum_insert_scale_factor's defaults
VACUUM_THRESHOLD = 1000
VACUUM_SCALE = 0.2
# below this many changed (inserted) rows a table is left to autovacuum: a small ingest never
# analyzes nor vacuums
MIN_CHANGED = 10_000

# Only tables this role may analyze and vacuum (their owner's, or any as a superuser):
# PostgreSQL skips the others with a warning, which every batch would repeat. The service
# role (cdp_app) owns none, so an ingest run with it leaves both to autovacuum.
_DUE_SQL = text(
    "SELECT t, do_analyze, do_vacuum FROM (SELECT s.relid::regclass::text AS t,"
    " s.n_mod_since_analyze >= :min_changed AND s.n_mod_since_analyze > :threshold + :scale"
    " * greatest(s.n_live_tup - s.n_mod_since_analyze, 0) AS do_analyze,"
    " s.n_ins_since_vacuum >= :min_changed AND s.n_ins_since_vacuum > :vthreshold + :vscale"
    " * greatest(s.n_live_tup - s.n_ins_since_vacuum, 0) AS do_vacuum, s.relid"
    " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE s.schemaname = current_schema()"
    " AND (pg_has_role(c.relowner, 'USAGE')"
    " OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))) d"
    " WHERE do_analyze OR do_vacuum ORDER BY relid"
)


@dataclass(frozen=True)
class Due:
    """A table and the upkeep its growth calls for."""

    table: str
    analyze: bool
    vacuum: bool

    @property
    def statement(self) -> str:
        # a name from pg_stat_user_tables, quoted by regclass::text: not user input
        if self.vacuum:
            return f"VACUUM (ANALYZE) {self.table}" if self.analyze else f"VACUUM {self.table}"
        return f"ANALYZE {self.table}"


def due_tables(conn: Any, *, min_changed: int | None = None) -> list[Due]:
    """Tables of the current schema whose statistics the changes since their last analyze
    have outgrown, or whose inserts since their last vacuum call for one (autovacuum's
    rules, with ``min_changed``, default ``MIN_CHANGED``, as a floor)."""
    floor = MIN_CHANGED if min_changed is None else min_changed
    rows = conn.execute(_DUE_SQL, {"min_changed": floor, "threshold": THRESHOLD, "scale": SCALE,
                                   "vthreshold": VACUUM_THRESHOLD, "vscale": VACUUM_SCALE})
    return [Due(t, bool(a), bool(v)) for t, a, v in rows]


def stale_tables(conn: Any, *, min_changed: int | None = None) -> list[str]:
    """The names of ``due_tables``."""
    return [d.table for d in due_tables(conn, min_changed=min_changed)]


def maintain_grown(engine: Any, *, min_changed: int | None = None) -> list[Due]:
    """ANALYZE and VACUUM what ``due_tables`` names (only tables this role may), one
    statement per table outside any transaction (VACUUM cannot run in one); returns them.
    PostgreSQL only: SQLite's planner prefers the index unaided and has no visibility map."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        due = due_tables(conn, min_changed=min_changed)
    if not due:
        return []
    # the pool resets the isolation level when the connection goes back
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for d in due:
            conn.exec_driver_sql(d.statement)
    log.info("upkeep of %d grown tables: %s", len(due), "; ".join(d.statement for d in due))
    return due

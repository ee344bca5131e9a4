"""Someone who can write the database alters an entry, then creates in `public` a `||` that
matches the verifier's formatting query better than pg_catalog's and prints the old value
back. The verifier must not use it: its query resolves names in pg_catalog only."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from cdp.audit.models import AuditEvent
from cdp.db import is_postgres
from tests.audit.helpers import run_verify, tamper, write_entries

LIE = """
CREATE FUNCTION public.cdp_test_lie(text, character varying) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT $1 || replace($2::text, 'apikey:mallory', 'apikey:test1') $$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = character varying,
                           FUNCTION = public.cdp_test_lie);
"""


def test_a_shadowing_operator_does_not_hide_an_altered_entry(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    if not is_postgres(platform.engine):
        pytest.skip("operator resolution through the search path is PostgreSQL's")
    write_entries(platform, 6)
    with platform.transaction() as s:
        victim = s.scalars(select(AuditEvent.id).where(AuditEvent.actor == "apikey:test1")
                           .order_by(AuditEvent.id)).first()
    tamper(platform, "UPDATE audit_events SET actor = 'apikey:mallory' WHERE id = :i", i=victim)
    with platform.engine.begin() as conn:
        conn.execute(text(LIE))
        # The lie works for any query resolved through the usual search path.
        shown = conn.execute(text("SELECT '\"' || actor || '\"' FROM audit_events WHERE id = :i"),
                             {"i": victim}).scalar_one()
        assert shown == '"apikey:test1"'
    try:
        code, out = run_verify(cli_env)
        assert code == 1, out
        assert f"entry id={victim}" in out and "altered" in out
    finally:
        with platform.engine.begin() as conn:
            conn.execute(text("DROP OPERATOR public.|| (text, character varying)"))
            conn.execute(text("DROP FUNCTION public.cdp_test_lie(text, character varying)"))

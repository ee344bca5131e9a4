"""The PostgreSQL verifier reads COPY rows in batches straight from libpq
(cdp/audit/copy_out.py): nothing is missed where one batch ends and the next begins, the
connection is usable after a check that stopped early, and a timestamp moved to a year BC
(which to_char prints like the same year AD) is caught."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cdp.audit import copy_out
from cdp.audit.checkpoints import create_checkpoint
from cdp.audit.log import AuditEntry, record
from cdp.audit.models import AuditEvent
from cdp.audit.verify import verify_log
from cdp.db import is_postgres
from cdp.platform import Platform
from tests.audit.helpers import tamper, write_entries


def _verify(platform: Platform, **kw: object):  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        res = verify_log(s, platform.keyring.verify_key, **kw)  # type: ignore[arg-type]
        # The same transaction goes on after the check, whatever it found.
        assert s.scalar(select(func.count()).select_from(AuditEvent)) is not None
        return res


@pytest.fixture
def pg(platform: Platform) -> Platform:
    if not is_postgres(platform.engine):
        pytest.skip("the COPY reader and to_char are PostgreSQL's")
    return platform


@pytest.mark.parametrize("position", [0, 3, 4, 5, 8, 11])
def test_tampering_at_a_batch_edge_is_named(
    pg: Platform, monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    monkeypatch.setattr(copy_out, "BATCH", 4)
    write_entries(pg, 12)
    assert _verify(pg).ok
    with pg.transaction() as s:
        ids = list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    victim = ids[position]
    tamper(pg, "UPDATE audit_events SET actor = 'apikey:someone-else' WHERE id = :i", i=victim)
    res = _verify(pg)
    assert not res.ok and res.first_bad is not None
    assert res.first_bad.entry_id == victim and "altered" in res.first_bad.message


@pytest.mark.parametrize("position", [3, 4])
def test_a_deleted_entry_at_a_batch_edge_is_caught(
    pg: Platform, monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    monkeypatch.setattr(copy_out, "BATCH", 4)
    write_entries(pg, 12)
    with pg.transaction() as s:
        ids = list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
        # Signed heads: the victim may be the last entry of its chain (chains are picked at
        # random), and only a checkpoint makes a cut tail visible.
        create_checkpoint(s, pg.keyring.signing_key)
    tamper(pg, "DELETE FROM audit_events WHERE id = :i", i=ids[position])
    res = _verify(pg)
    assert not res.ok and res.first_bad is not None
    assert "deleted" in res.first_bad.message or "removed" in res.first_bad.message


def test_a_year_bc_is_not_its_ad_twin(pg: Platform) -> None:
    write_entries(pg, 3)
    with pg.transaction() as s:
        victim = s.scalar(select(func.max(AuditEvent.id)))
    # The same month, day and time, 2Y-1 years earlier: year Y BC (kept by the default
    # partition). to_char's YYYY prints both as Y.
    tamper(
        pg,
        "UPDATE audit_events SET at = at - make_interval(years => "
        "2 * extract(year FROM at AT TIME ZONE 'UTC')::int - 1) WHERE id = :i",
        i=victim,
    )
    with pg.transaction() as s:
        era = s.scalar(select(func.to_char(AuditEvent.at, "BC")).where(AuditEvent.id == victim))
    assert era == "BC"
    res = _verify(pg)
    assert not res.ok and res.first_bad is not None
    assert res.first_bad.entry_id == victim and "altered" in res.first_bad.message


def test_non_ascii_head_without_escapes_verifies_and_its_tampering_is_named(pg: Platform) -> None:
    # Non-ASCII in a head string and nothing to escape anywhere: the fast path's own case
    # (character lengths of the JSON columns taken from their decoded text).
    with pg.transaction() as s:
        record(s, AuditEntry(actor="apikey:héllo", action="customers.read", role="pharmacist",
                             categories=["contact"], view={"contact": "masked"}))
    write_entries(pg, 2)
    assert _verify(pg).ok
    with pg.transaction() as s:
        victim = s.scalar(select(AuditEvent.id).where(AuditEvent.actor == "apikey:héllo"))
    tamper(pg, "UPDATE audit_events SET actor = 'apikey:hëllo' WHERE id = :i", i=victim)
    res = _verify(pg)
    assert not res.ok and res.first_bad is not None
    assert res.first_bad.entry_id == victim and "altered" in res.first_bad.message

"""``cdp pii rescan``: stored redactions made by an older engine are rewritten from the
encrypted originals, audited per batch, resumable, and what roles read changes with them."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cdp.audit.models import AuditEvent
from cdp.cli import cli
from cdp.crypto import fields
from cdp.identity.models import Interaction
from cdp.identity.rescan import BATCH_ACTION, DONE_ACTION
from tests.access.fixtures import FULL_RECORD, ingest
from tests.logcheck import register_sensitive

pytestmark = pytest.mark.usefixtures("analyzer")

NOTES = [
    "黄成阳咨询降压药的用法，电话13812345678",      # a name opening the sentence
    "王先生说药品破损，请李总尽快处理",                # honorific forms
    "Spoke with Jean-Luc O'Brien about the refill",  # English name, hyphen and apostrophe
]
NAMES = ["黄成阳", "王先生", "李总", "Jean-Luc O'Brien"]
register_sensitive(NAMES + ["13812345678"])


def _records() -> list[dict[str, Any]]:
    out = []
    for i, note in enumerate(NOTES):
        rec = {**FULL_RECORD, "source_record_id": f"rescan-{i}",
               "identifiers": [{"type": "member_id", "value": f"M-RESCAN-{i}"}],
               "interactions": [{"kind": "note", "at": "2026-03-03T10:00:00+08:00",
                                 "text": note}]}
        out.append(rec)
    return out


def _age_redactions(platform) -> None:  # type: ignore[no-untyped-def]
    """Make every stored redaction look like an old engine's: the names left in clear."""
    with platform.transaction() as session:
        rows = list(session.scalars(select(Interaction)))
        deks = platform.keys.load(session, {r.data_key_id for r in rows})
        for r in rows:
            aad = fields.field_aad("interactions", "text_ct", r.id)
            text = fields.decrypt(deks[r.data_key_id], r.text_ct, aad).decode()
            old = text.replace("13812345678", "<PHONE_NUMBER>")
            r.text_redacted_ct = fields.encrypt(
                deks[r.data_key_id], old.encode(),
                fields.field_aad("interactions", "text_redacted_ct", r.id))
            r.entity_types = ["PHONE_NUMBER"] if "<PHONE_NUMBER>" in old else []


def _stored(platform) -> dict[str, tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    with platform.transaction() as session:
        rows = list(session.scalars(select(Interaction).order_by(Interaction.id)))
        deks = platform.keys.load(session, {r.data_key_id for r in rows})
        return {r.id: (fields.decrypt(deks[r.data_key_id], r.text_redacted_ct,
                                      fields.field_aad("interactions", "text_redacted_ct", r.id)
                                      ).decode(), list(r.entity_types)) for r in rows}


def _rescan(cli_env, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["pii", "rescan", "--no-progress", *args], env=cli_env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_rescan_rewrites_old_redactions_and_views_serve_them(client, platform, cli_env,
                                                              make_api_key) -> None:  # type: ignore[no-untyped-def]
    customers = ingest(client, make_api_key("ingest_service"), _records())
    _age_redactions(platform)
    assert any("黄成阳" in text for text, _ in _stored(platform).values())

    out = _rescan(cli_env)
    assert "3 read, 3 rewritten, 0 skipped" in out

    stored = _stored(platform)
    for text, types in stored.values():
        assert "PERSON" in types
        for name in NAMES:
            assert name not in text
    assert any(t.startswith("<PERSON>咨询降压药") for t, _ in stored.values())

    # the customer-service view serves the rewritten copy
    r = client.get(f"/v1/customers/{customers[0]}",
                   headers={**make_api_key("customer_service"), "X-Purpose-Of-Use": "customer_support"})
    assert r.status_code == 200, r.get_json()
    body = r.get_data(as_text=True)
    assert "黄成阳" not in body and "<PERSON>" in body

    # audited: one batch entry naming the rows rewritten, then the end of the run; no text
    with platform.transaction() as session:
        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_((BATCH_ACTION, DONE_ACTION))).order_by(AuditEvent.id)))
    assert [e.action for e in events] == [BATCH_ACTION, DONE_ACTION]
    assert sorted(events[0].detail["rewritten"]) == sorted(stored)
    assert "黄成阳" not in str(events[0].detail)

    # a second run finds nothing left to rewrite
    assert "3 read, 0 rewritten" in _rescan(cli_env)


def test_rescan_resumes_after_the_last_committed_batch(client, platform, cli_env,
                                                       make_api_key) -> None:  # type: ignore[no-untyped-def]
    ingest(client, make_api_key("ingest_service"), _records())
    _age_redactions(platform)
    first = _rescan(cli_env, "--batch-size", "1", "--limit", "2")
    assert "2 read, 2 rewritten" in first and "(resumed)" not in first
    ids = sorted(_stored(platform))
    # the third note is untouched until the run is resumed
    assert "PERSON" not in _stored(platform)[ids[2]][1]

    second = _rescan(cli_env, "--batch-size", "1")
    assert "(resumed)" in second and "3 read, 3 rewritten" in second  # totals of the run
    assert "PERSON" in _stored(platform)[ids[2]][1]
    with platform.transaction() as session:
        batches = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == BATCH_ACTION).order_by(AuditEvent.id)))
    # each row read once in the run: the resumed part starts after the last committed id
    assert [b.detail["after"] for b in batches] == ids
    assert len({b.detail["run"] for b in batches}) == 1

    # --restart begins a new run from the first row
    third = _rescan(cli_env, "--restart")
    assert "(resumed)" not in third and "3 read, 0 rewritten" in third

"""The unified customer view (VIEW.md): everything held for one customer, decrypted.

No auditing and no filtering here: the access layer renders per role and purpose and audits;
rights and exports use it unrendered. Every personal leaf carries its data category.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.errors import DecryptionError, NotFound
from cdp.identity import normalize as nz
from cdp.identity.golden import golden_profile
from cdp.identity.ingest import identifier_category
from cdp.identity.models import (
    Consent,
    Customer,
    Identifier,
    IdentityLink,
    Interaction,
    SourceRecord,
)
from cdp.identity.rules import load_rules


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _empty(c: Customer) -> dict[str, Any]:
    return {
        "customer_id": c.id,
        "status": c.status,
        "merged_into": c.merged_into,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "identities": [],
        "profile": {},
        "extra_fields": [],
        "orders": [],
        "prescriptions": [],
        "interactions": [],
        "consents": [],
        "links": [],
    }


def _display_identifier(id_type: str, status: str, raw: str, source: str) -> str:
    if status == nz.VALID and id_type in ("phone", "email", "national_id", "passport"):
        n = nz.normalize_identifier(id_type, raw, source)
        if n.norm:
            return n.norm
    return raw


def assemble_customer(session: Session, platform: Any, customer_id: str) -> dict[str, Any]:
    """VIEW.md's dict for ``customer_id``; NotFound if there is no such customer.

    A merged customer returns status "merged" and ``merged_into`` only; values whose data key
    has been destroyed (erasure) are left out.
    """
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound("no such customer")
    view = _empty(c)
    if c.status in ("merged", "erased"):
        return view
    records = list(
        session.scalars(
            select(SourceRecord)
            .where(SourceRecord.customer_id == customer_id)
            .order_by(SourceRecord.observed_at, SourceRecord.source, SourceRecord.source_record_id)
        )
    )
    idents = list(session.scalars(
        select(Identifier).where(Identifier.customer_id == customer_id).order_by(Identifier.id)))
    inters = list(session.scalars(
        select(Interaction).where(Interaction.customer_id == customer_id)
        .order_by(Interaction.at, Interaction.id)))
    consents = list(session.scalars(
        select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.at, Consent.id)))
    links = list(session.scalars(
        select(IdentityLink)
        .where(IdentityLink.customer_id == customer_id, IdentityLink.ended_at.is_(None))
        .order_by(IdentityLink.id)))
    key_ids = {r.data_key_id for r in records} | {i.data_key_id for i in idents} | {
        i.data_key_id for i in inters}
    deks = platform.keys.load(session, key_ids)

    def open_json(table: str, column: str, row_id: str, key_id: str, blob: bytes | None) -> Any:
        if blob is None or key_id not in deks:
            return None
        try:
            return fields.decrypt_json(deks[key_id], blob, fields.field_aad(table, column, row_id))
        except DecryptionError:
            return None

    def open_text(table: str, column: str, row_id: str, key_id: str, blob: bytes | None) -> str | None:
        if blob is None or key_id not in deks:
            return None
        try:
            return fields.decrypt(deks[key_id], blob, fields.field_aad(table, column, row_id)).decode()
        except DecryptionError:
            return None

    by_record: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in idents:
        raw = open_text("identifiers", "value_ct", i.id, i.data_key_id, i.value_ct)
        if raw is None:
            continue
        rec_source = next((r.source for r in records if r.id == i.record_id), "")
        by_record[i.record_id].append({
            "type": i.type, "status": i.status,
            "value": _display_identifier(i.type, i.status, raw, rec_source),
            "category": identifier_category(i.type),
        })
    observations = []
    src_of = {r.id: (r.source, r.source_record_id) for r in records}
    for r in records:
        view["identities"].append({
            "source": r.source, "source_record_id": r.source_record_id,
            "observed_at": _iso(r.observed_at), "identifiers": by_record.get(r.id, []),
        })
        profile = open_json("source_records", "profile_ct", r.id, r.data_key_id, r.profile_ct)
        if profile:
            observations.append({"source": r.source, "source_record_id": r.source_record_id,
                                 "observed_at": r.observed_at, "profile": profile})
        for e in open_json("source_records", "extra_ct", r.id, r.data_key_id, r.extra_ct) or []:
            view["extra_fields"].append({
                "source": r.source, "source_record_id": r.source_record_id,
                "field": e["field"], "value": e["value"], "category": e["category"],
            })
        for o in open_json("source_records", "orders_ct", r.id, r.data_key_id, r.orders_ct) or []:
            items = [
                {"sku": it.get("sku"), "name": it.get("name"), "rx": bool(it.get("rx")),
                 "qty": it.get("qty"), "unit_price": it.get("unit_price")}
                for it in o.get("items") or []
            ]
            rx = any(it["rx"] for it in items)
            entry = {
                "order_id": o.get("order_id"), "source": r.source,
                "source_record_id": r.source_record_id, "ordered_at": o.get("ordered_at"),
                "total": o.get("total"), "items": items,
                "category": "health" if rx else "purchase",
            }
            view["prescriptions" if rx else "orders"].append(entry)
    view["profile"] = golden_profile(observations, load_rules(platform.config.policy_dir))
    for it in inters:
        text = open_text("interactions", "text_ct", it.id, it.data_key_id, it.text_ct)
        if text is None:
            continue
        src = src_of.get(it.record_id, (None, None))
        view["interactions"].append({
            "id": it.id, "kind": it.kind, "at": _iso(it.at), "source": src[0],
            "source_record_id": src[1], "text": text,
            "text_redacted": open_text("interactions", "text_redacted_ct", it.id, it.data_key_id,
                                       it.text_redacted_ct),
            "entity_types": list(it.entity_types or []), "category": "free_text",
        })
    for cs in consents:
        view["consents"].append({
            "purpose": cs.purpose, "granted": cs.granted, "at": _iso(cs.at),
            "channel": cs.channel, "version": cs.version, "category": "consent",
        })
    for lk in links:
        src = src_of.get(lk.record_id, (None, None))
        view["links"].append({
            "source": src[0], "source_record_id": src[1], "rule": lk.rule,
            "evidence": list(lk.evidence or []), "score": lk.score, "actor": lk.actor,
            "created_at": _iso(lk.created_at),
        })
    return view

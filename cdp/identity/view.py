"""The unified customer view (docs/api.md, "The customer view"): everything held for one customer, decrypted.

No auditing and no filtering here: the access layer renders per role and purpose and audits;
rights and exports use it unrendered. Every personal leaf carries its data category.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    Integer,
    and_,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.crypto.models import DataKey
from cdp.db.driver_sql import DriverStatement
from cdp.errors import DecryptionError, NotFound
from cdp.identity import normalize as nz
from cdp.identity.golden import golden_profile
from cdp.identity.models import (
    Consent,
    Customer,
    Identifier,
    IdentityLink,
    Interaction,
    SourceRecord,
)
from cdp.identity.rules import load_rules
from cdp.identity.vocabulary import identifier_category


def _item(it: dict[str, Any]) -> dict[str, Any]:
    """An order item as the view shows it; the ATC code and days' supply only where the
    channel sent them (a plain view passes them on, masked and redacted views rebuild items)."""
    out = {"sku": it.get("sku"), "name": it.get("name"), "rx": bool(it.get("rx")),
           "qty": it.get("qty"), "unit_price": it.get("unit_price")}
    for k in ("atc", "days_supply"):
        if it.get(k) is not None:
            out[k] = it[k]
    return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _empty(c: Any) -> dict[str, Any]:
    return {
        "customer_id": c.c_id,
        "status": c.c_status,
        "merged_into": c.c_merged_into,
        "created_at": _iso(c.c_created_at),
        "updated_at": _iso(c.c_updated_at),
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


class _WrappedKey(NamedTuple):
    """The columns of a data key row KeyService.unwrap needs (read with its records)."""

    id: str
    wrapped: bytes | None
    kek_version: int


# Customers per IN list: well under SQLite's bound-parameter limit.
_CHUNK = 500


def assemble_customer(session: Session, platform: Any, customer_id: str) -> dict[str, Any]:
    """The customer view's dict (docs/api.md) for ``customer_id``; NotFound if there is no such customer.

    A merged customer returns status "merged" and ``merged_into`` only; values whose data key
    has been destroyed (erasure) are left out.
    """
    view = assemble_customers(session, platform, [customer_id]).get(customer_id)
    if view is None:
        raise NotFound("no such customer")
    return view


def assemble_customers(
    session: Session,
    platform: Any,
    ids: Iterable[str],
    *,
    withhold_statuses: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """customer id -> the customer view's dict (docs/api.md; exactly what ``assemble_customer``
    returns), for every
    id that exists; unknown ids are left out.

    Batched: two queries per 500 customers whatever their number of records (customers
    joined with their records, data keys and identifiers; then interactions, consents and
    links in one UNION ALL).
    ``withhold_statuses``: customers in these statuses come back as the empty shell (status,
    no data, nothing read or decrypted), as merged and erased ones always do; the access
    layer uses it so a restricted customer is not decrypted for a caller who may not see it.
    """
    wanted = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {}
    shell_only = sorted({"merged", "erased", *withhold_statuses})
    rules = None
    conn = _connection(session) if wanted else None
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = list(_read_customers(conn, chunk, shell_only))
        live: list[str] = []
        records: list[Any] = []
        idents: list[Any] = []
        for row in rows:
            if row.c_id not in out:
                out[row.c_id] = _empty(row)
                if row.c_status not in shell_only:
                    live.append(row.c_id)
            if row.r_id is None:
                continue
            if not records or records[-1].r_id != row.r_id:
                records.append(row)
            if row.i_id is not None:
                idents.append(row)
        if live:
            if rules is None:
                rules = load_rules(platform.policies)
            _fill(session, conn, platform, live, out, rules, records, idents)
    return {cid: out[cid] for cid in wanted if cid in out}


# The read statements are built once (with expanding IN parameters) and run as Core on the
# session's connection: per read that saves building each statement, its cache key and the
# ORM's result machinery, where a single-customer read would spend most of its CPU.
_C, _R, _K, _I = (m.__table__.c for m in (Customer, SourceRecord, DataKey, Identifier))
_INT, _CON, _LNK = (m.__table__.c for m in (Interaction, Consent, IdentityLink))
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)

# One row per (customer, record, identifier): the records (with their data key) and
# identifiers of every customer of ``ids`` not in ``shell``; one row with nulls for a
# customer without any. Records in the view's order (docs/api.md), identifiers by id within them.
def _customers_query(match: Any, shell: Any) -> Any:
    return (
        select(
            _C.id.label("c_id"), _C.status.label("c_status"),
            _C.merged_into.label("c_merged_into"),
            _C.created_at.label("c_created_at"), _C.updated_at.label("c_updated_at"),
            _R.id.label("r_id"), _R.source, _R.source_record_id, _R.observed_at,
            _R.data_key_id.label("r_key"), _R.profile_ct, _R.orders_ct, _R.extra_ct,
            _K.wrapped, _K.kek_version,
            _I.id.label("i_id"), _I.type.label("i_type"), _I.status.label("i_status"),
            _I.value_ct.label("i_value_ct"), _I.data_key_id.label("i_key"),
        )
        .select_from(Customer.__table__)
        .outerjoin(SourceRecord.__table__, and_(_R.customer_id == _C.id, _C.status.not_in(shell)))
        .outerjoin(DataKey.__table__, _K.id == _R.data_key_id)
        .outerjoin(
            Identifier.__table__,
            and_(_I.record_id == _R.id, _I.customer_id == _R.customer_id),
        )
        .where(match(_C.id))
        .order_by(_C.id, _R.observed_at, _R.source, _R.source_record_id, _I.id)
    )


_CUSTOMERS = _customers_query(lambda col: col.in_(_IDS), bindparam("shell", expanding=True))
# The same for one customer (every API read): no expanding parameters, so the statement's
# SQL is not re-rendered on each execution.
# The shell statuses as a fixed number of parameters, the last repeated to fill them.
_ID: BindParameter[Any] = bindparam("id")
_SHELL_SLOTS = 4
# Run on the driver's cursor (cdp.db.driver_sql): this and _REST_ONE are most of the SQL a
# customer read runs.
_CUSTOMER_ONE = DriverStatement(_customers_query(
    lambda col: col == _ID, [bindparam(f"shell{i}") for i in range(_SHELL_SLOTS)]
))


# Interactions, consents and links of the customers ``ids`` in one statement (one round
# trip instead of three): UNION ALL of the three, each branch filling its own columns and
# NULLs (typed) elsewhere; ``src`` says which. Ordered as the three queries were: by customer
# then ``at`` and ``id`` for interactions and consents (consent ids are integers: ``nid``),
# by link id for links.
def _rest_query(match: Any) -> Any:
    def none(col: Any) -> Any:
        return cast(null(), col.type)

    def branch(src: int, values: dict[str, Any]) -> Any:
        cols = [literal_column(str(src), Integer).label("src")]
        for name, like in _REST_COLUMNS:
            cols.append((values[name] if name in values else none(like)).label(name))
        return select(*cols)

    inter = branch(0, {
        "customer_id": _INT.customer_id, "at": _INT.at, "id": _INT.id,
        "record_id": _INT.record_id, "kind": _INT.kind, "text_ct": _INT.text_ct,
        "text_redacted_ct": _INT.text_redacted_ct, "entity_types": _INT.entity_types,
        "data_key_id": _INT.data_key_id,
    }).where(match(_INT.customer_id))
    cons = branch(1, {
        "customer_id": _CON.customer_id, "at": _CON.at, "nid": _CON.id,
        "purpose": _CON.purpose, "granted": _CON.granted, "channel": _CON.channel,
        "version": _CON.version,
    }).where(match(_CON.customer_id))
    links = branch(2, {
        "customer_id": _LNK.customer_id, "nid": _LNK.id, "record_id": _LNK.record_id,
        "rule": _LNK.rule, "evidence": _LNK.evidence, "score": _LNK.score,
        "actor": _LNK.actor, "created_at": _LNK.created_at,
    }).where(match(_LNK.customer_id), _LNK.ended_at.is_(None))
    order = ("src", "customer_id", "at", "id", "nid")
    return union_all(inter, cons, links).order_by(*(literal_column(n) for n in order))


_REST_COLUMNS = (
    ("customer_id", _INT.customer_id), ("at", _INT.at), ("id", _INT.id), ("nid", _CON.id),
    ("record_id", _INT.record_id), ("kind", _INT.kind), ("text_ct", _INT.text_ct),
    ("text_redacted_ct", _INT.text_redacted_ct), ("entity_types", _INT.entity_types),
    ("data_key_id", _INT.data_key_id), ("purpose", _CON.purpose), ("granted", _CON.granted),
    ("channel", _CON.channel), ("version", _CON.version), ("rule", _LNK.rule),
    ("evidence", _LNK.evidence), ("score", _LNK.score), ("actor", _LNK.actor),
    ("created_at", _LNK.created_at),
)
_REST = _rest_query(lambda col: col.in_(_IDS))
_REST_ONE = DriverStatement(_rest_query(lambda col: col == _ID))


def _read_customers(conn: Any, ids: list[str], shell: list[str]) -> Any:
    """Rows of ``_CUSTOMERS`` for ``ids`` (the one-customer statement for a single id)."""
    if len(ids) == 1 and len(shell) <= _SHELL_SLOTS:
        params: dict[str, Any] = {"id": ids[0]}
        for i in range(_SHELL_SLOTS):
            params[f"shell{i}"] = shell[min(i, len(shell) - 1)]
        return _CUSTOMER_ONE.rows(conn, params)
    return conn.execute(_CUSTOMERS, {"ids": ids, "shell": shell})


def _read_rest(conn: Any, ids: list[str]) -> Any:
    """Rows of ``_REST`` for ``ids`` (the one-customer statement for a single id)."""
    if len(ids) == 1:
        return _REST_ONE.rows(conn, {"id": ids[0]})
    return conn.execute(_REST, {"ids": ids})


def _connection(session: Session) -> Any:
    """The session's connection, after the flush ``session.execute`` would have done."""
    if session.autoflush:
        session.flush()
    return session.connection()


def _fill(
    session: Session, conn: Any, platform: Any, live: list[str],
    out: dict[str, dict[str, Any]], rules: Any, records: list[Any], idents: list[Any],
) -> None:
    """Read the rest of the data of the customers ``live`` (on ``conn``, the session's
    connection) and decrypt it into ``out``."""
    inters: list[Any] = []
    consents: list[Any] = []
    links: list[Any] = []
    for row in _read_rest(conn, live):
        (inters, consents, links)[row.src].append(row)

    # Data keys: those of the records came with them (unwrapped through the KeyService
    # cache); a key used only by an identifier or interaction costs one more query.
    deks: dict[str, bytes] = {}
    seen: set[str] = set()
    for r in records:
        if r.r_key in seen:
            continue
        seen.add(r.r_key)
        if r.wrapped is not None:
            deks[r.r_key] = platform.keys.unwrap(_WrappedKey(r.r_key, r.wrapped, r.kek_version))
    missing = ({i.i_key for i in idents} | {i.data_key_id for i in inters}) - seen
    if missing:
        deks.update(platform.keys.load(session, missing))

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

    # Keyed by (customer, record) so a batch never lends one customer's record to another.
    src_of = {(r.c_id, r.r_id): (r.source, r.source_record_id) for r in records}
    by_record: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in idents:
        raw = open_text("identifiers", "value_ct", i.i_id, i.i_key, i.i_value_ct)
        if raw is None:
            continue
        by_record[i.r_id].append({
            "type": i.i_type, "status": i.i_status,
            "value": _display_identifier(i.i_type, i.i_status, raw, i.source),
            "category": identifier_category(i.i_type),
        })
    observations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        view = out[r.c_id]
        view["identities"].append({
            "source": r.source, "source_record_id": r.source_record_id,
            "observed_at": _iso(r.observed_at), "identifiers": by_record.get(r.r_id, []),
        })
        profile = open_json("source_records", "profile_ct", r.r_id, r.r_key, r.profile_ct)
        if profile:
            observations[r.c_id].append({
                "source": r.source, "source_record_id": r.source_record_id,
                "observed_at": r.observed_at, "profile": profile})
        for e in open_json("source_records", "extra_ct", r.r_id, r.r_key, r.extra_ct) or []:
            view["extra_fields"].append({
                "source": r.source, "source_record_id": r.source_record_id,
                "field": e["field"], "value": e["value"], "category": e["category"],
            })
        for o in open_json("source_records", "orders_ct", r.r_id, r.r_key, r.orders_ct) or []:
            items = [_item(it) for it in o.get("items") or []]
            rx = any(it["rx"] for it in items)
            entry = {
                "order_id": o.get("order_id"), "source": r.source,
                "source_record_id": r.source_record_id, "ordered_at": o.get("ordered_at"),
                "total": o.get("total"), "items": items,
                "category": "health" if rx else "purchase",
            }
            view["prescriptions" if rx else "orders"].append(entry)
    for cid in live:
        out[cid]["profile"] = golden_profile(observations.get(cid, []), rules)
    for it in inters:
        text = open_text("interactions", "text_ct", it.id, it.data_key_id, it.text_ct)
        if text is None:
            continue
        src = src_of.get((it.customer_id, it.record_id), (None, None))
        out[it.customer_id]["interactions"].append({
            "id": it.id, "kind": it.kind, "at": _iso(it.at), "source": src[0],
            "source_record_id": src[1], "text": text,
            "text_redacted": open_text("interactions", "text_redacted_ct", it.id, it.data_key_id,
                                       it.text_redacted_ct),
            "entity_types": list(it.entity_types or []), "category": "free_text",
        })
    for cs in consents:
        out[cs.customer_id]["consents"].append({
            "purpose": cs.purpose, "granted": cs.granted, "at": _iso(cs.at),
            "channel": cs.channel, "version": cs.version, "category": "consent",
        })
    for lk in links:
        src = src_of.get((lk.customer_id, lk.record_id), (None, None))
        out[lk.customer_id]["links"].append({
            "source": src[0], "source_record_id": src[1], "rule": lk.rule,
            "evidence": list(lk.evidence or []), "score": lk.score, "actor": lk.actor,
            "created_at": _iso(lk.created_at),
        })

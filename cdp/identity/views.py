"""`POST /v1/records`: ingest a batch of source records over HTTP (docs/api.md, docs/records.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from pydantic import Field, RootModel

from cdp.access.guard import current_principal, protected
from cdp.errors import ValidationError
from cdp.http import current_platform, db_session
from cdp.http.openapi import api_doc
from cdp.identity.pipeline import store_prepared
from cdp.identity.prepare import prepare
from cdp.identity.records import RecordIn, RecordRejected, validate_record
from cdp.identity.rules import load_rules

bp = Blueprint("identity", __name__)

MAX_RECORDS = 1000


class RecordBatch(RootModel[list[RecordIn]]):
    """A JSON array of 1 to 1,000 source records (CONTRACT §3). A record that does not
    validate is rejected on its own (``status: rejected``), the rest are stored."""

    root: list[RecordIn] = Field(..., min_length=1, max_length=MAX_RECORDS)


@bp.post("/records")
@api_doc(body=RecordBatch, tags=["records"])
@protected("records", "write")
def post_records() -> Any:
    """Ingest a JSON array of source records; one result per record, in order.

    Invalid records are reported (``status: rejected`` with a value-free reason) and the
    rest are stored; the response is 200 when at least the request itself was well formed.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, list):
        raise ValidationError("the body must be a JSON array of source records", code="bad_body")
    if not body:
        raise ValidationError("the array is empty", code="bad_body")
    if len(body) > MAX_RECORDS:
        raise ValidationError(f"at most {MAX_RECORDS} records per request", code="too_many_records")
    platform = current_platform()
    rules = load_rules(platform.policies)
    results: list[dict[str, Any] | None] = [None] * len(body)
    valid = []
    for i, obj in enumerate(body):
        try:
            valid.append((i, validate_record(obj)))
        except RecordRejected as e:
            results[i] = {"index": i, "status": "rejected", "reason": e.reason}
    session = db_session()
    actor = current_principal().actor
    prepared = [prepare(rec, platform.keyring, rules, platform.policies) for _, rec in valid]
    out, stats = store_prepared(session, platform, prepared, actor=actor, rules=rules)
    new_customers, merges = stats.new_customers, stats.merges
    for (i, _), r in zip(valid, out, strict=True):
        results[i] = {"index": i, "source": r.source, "source_record_id": r.source_record_id,
                      "status": r.status, "customer_id": r.customer_id}
    for res in results:  # earlier resolution rounds may have been merged by later ones
        if res and res.get("customer_id"):
            res["customer_id"] = _current(session, res["customer_id"])
    accepted = sum(1 for r in results if r and r["status"] != "rejected")
    return jsonify({
        "accepted": accepted,
        "rejected": len(body) - accepted,
        "new_customers": new_customers,
        "merges": merges,
        "results": results,
    })


def _current(session: Any, customer_id: str) -> str:
    from cdp.identity.models import Customer

    seen = 0
    while seen < 20:
        row = session.get(Customer, customer_id)
        if row is None or row.merged_into is None:
            return customer_id
        customer_id = row.merged_into
        seen += 1
    return customer_id

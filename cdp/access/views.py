"""Read API: the unified customer view, lookup by identifier, break-glass, stewardship.

Handlers parse input, call a service and return its result; the guard decides before the
body, the renderer shapes fields after the service: no role appears in this file.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from cdp.access import service
from cdp.access.guard import current_access, current_policy, protected
from cdp.access.ratelimit import client_address, current_limiter, init_limiter, spend_customer_records
from cdp.access.schemas import (
    BreakGlassIn,
    BreakGlassOut,
    CustomerList,
    CustomerOut,
    LookupQuery,
    MergeIn,
    SplitIn,
    StewardOut,
)
from cdp.errors import CdpError
from cdp.http import current_platform, db_session
from cdp.http.openapi import api_doc, build_document
from cdp.http.parsing import parse

bp = Blueprint("access", __name__)
BREAK_GLASS_HEADER = "X-Break-Glass"
MAX_MATCHES = 20


@bp.record_once
def _setup(state: Any) -> None:
    init_limiter(state.app)
    # Validate the policy at start: a bad policy file stops the service from starting.
    from cdp.access.policy import policy_store

    policy_store(state.app.extensions["cdp"].policies)


@bp.get("/customers/<customer_id>")
@api_doc(
    response=CustomerOut,
    purpose=True,
    tags=["customers"],
    headers={BREAK_GLASS_HEADER: "an active break-glass grant id for this customer"},
)
@protected("customers", "read", purpose="required")
def get_customer(customer_id: str) -> Any:
    """The unified customer view, rendered for the caller's role and purpose."""
    ctx = current_access()
    spend_customer_records(ctx.principal.key_prefix, 1)
    out = service.read_customer(
        db_session(),
        current_platform(),
        ctx,
        customer_id,
        break_glass_id=request.headers.get(BREAK_GLASS_HEADER) or None,
    )
    return jsonify(out)


@bp.get("/customers")
@api_doc(query=LookupQuery, response=CustomerList, purpose=True, tags=["customers"])
@protected("customers", "read", purpose="required")
def find_customers() -> Any:
    """Customers holding an identifier (exact match after normalisation, via the blind index)."""
    q = parse(LookupQuery, request.args.to_dict())
    session, platform, ctx = db_session(), current_platform(), current_access()
    try:
        ids = service.find_customer_ids(session, platform, q.identifier_type, q.value, q.source)
    except CdpError as exc:
        if exc.code == "blocked_identifier":
            service.audit_lookup(session, ctx, q.identifier_type, 0, refused=exc.code)
        raise
    # A shared identifier (a family phone) can match several people; a lookup is not a scan.
    service.audit_lookup(session, ctx, q.identifier_type, len(ids))
    # The key's budget of customer records: one for the search, one per customer returned
    # (refused as a whole, before anything is decrypted, when it does not fit).
    spend_customer_records(ctx.principal.key_prefix, 1 + len(ids[:MAX_MATCHES]))
    customers = []
    for cid in ids[:MAX_MATCHES]:
        try:
            customers.append(service.read_customer(session, platform, ctx, cid))
        except CdpError as exc:
            # Restricted or erased matches are left out of a lookup (each refusal audited):
            # saying "a restricted customer holds this phone" would itself disclose.
            if exc.code not in ("customer_restricted", "customer_erased"):
                raise
    return jsonify({"customers": customers, "truncated": len(ids) > MAX_MATCHES})


@bp.post("/customers/<customer_id>/break-glass")
@api_doc(body=BreakGlassIn, response=BreakGlassOut, purpose=True, tags=["customers"], status=201)
@protected("customers", "break_glass", purpose="required")
def break_glass(customer_id: str) -> Any:
    """Plain access to one customer for a limited time, with a written reason (audited)."""
    body = parse(BreakGlassIn, request.get_json(silent=True))
    out = service.open_break_glass(
        db_session(), current_access(), customer_id, body.reason, body.minutes,
        platform=current_platform(),
    )
    return jsonify(out), 201


@bp.post("/customers/<customer_id>/merge")
@api_doc(body=MergeIn, response=StewardOut, tags=["stewardship"])
@protected("customers", "merge")
def merge(customer_id: str) -> Any:
    """Merge another customer into this one (data steward); lineage and audit recorded."""
    from cdp.identity.stewardship import merge_customers

    body = parse(MergeIn, request.get_json(silent=True))
    ctx = current_access()
    survivor = merge_customers(
        db_session(),
        current_platform(),
        customer_id,
        body.other_customer_id,
        ctx.principal.actor,
        body.reason,
        audit_context=ctx.audit_context(),
    )
    return jsonify({"customer_id": survivor, "action": "merge"})


@bp.post("/customers/<customer_id>/split")
@api_doc(body=SplitIn, response=StewardOut, tags=["stewardship"])
@protected("customers", "split")
def split(customer_id: str) -> Any:
    """Move source records of this customer to a new customer (data steward)."""
    from cdp.identity.stewardship import split_records

    body = parse(SplitIn, request.get_json(silent=True))
    ctx = current_access()
    new = split_records(
        db_session(),
        current_platform(),
        customer_id,
        list(body.record_ids),
        ctx.principal.actor,
        body.reason,
        audit_context=ctx.audit_context(),
    )
    return jsonify({"customer_id": new, "action": "split"})


@bp.get("/openapi.json")
@api_doc(public=True, tags=["meta"])
def openapi() -> Any:
    """The OpenAPI document of this service, generated from its routes and models."""
    limiter, address = current_limiter(), client_address()
    limiter.check_anonymous(address)  # public: counted as unauthenticated traffic
    limiter.count_anonymous(address)
    return jsonify(build_document(current_app, sorted(current_policy().purposes)))

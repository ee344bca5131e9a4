"""HTTP for data subject requests (compliance roles) and the kept prescription records."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from cdp.access.guard import current_access, protected
from cdp.audit.log import record
from cdp.errors import NotFound, ValidationError
from cdp.http import current_platform, db_session, request_id
from cdp.http.openapi import api_doc
from cdp.rights import service
from cdp.rights.models import DsrRequest
from cdp.rights.schemas import DsrCreateIn, ExecuteIn, PackageDownloadIn, RefuseIn, VerifyIn

bp = Blueprint("rights", __name__)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        if request.get_data(cache=True):
            # A body that is not JSON is a mistake, not "no options": never act on it.
            raise ValidationError("the body must be a JSON object", code="bad_body")
        data = {}
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    return data


def _who() -> dict[str, Any]:
    acc = current_access()
    return {"actor": acc.principal.actor, "role": acc.role, "request_id": request_id()}


@bp.post("/dsr")
@api_doc(body=DsrCreateIn, purpose=True, tags=["data subject requests"], status=201)
@protected("dsr", "write", purpose="required")
def create() -> Any:
    """Record a data subject request (received; its deadline from the retention policy)."""
    from cdp.http.parsing import parse

    body = parse(DsrCreateIn, _body())
    detail: dict[str, Any] = {}
    if body.purposes is not None:
        detail["purposes"] = body.purposes
    req = service.create_request(db_session(), current_platform(), body.customer_id, body.kind,
                                 channel=body.channel, detail=detail, **_who())
    return jsonify(service.request_json(req)), 201


@bp.get("/dsr")
@api_doc(purpose=True, tags=["data subject requests"])
@protected("dsr", "read", purpose="required")
def list_requests() -> Any:
    q = select(DsrRequest).order_by(DsrRequest.received_at.desc()).limit(500)
    status = request.args.get("status")
    if status:
        q = q.where(DsrRequest.status == status)
    if request.args.get("customer_id"):
        q = q.where(DsrRequest.customer_id == request.args["customer_id"])
    reqs = [service.request_json(r) for r in db_session().scalars(q)]
    if request.args.get("overdue") in ("1", "true"):
        reqs = [r for r in reqs if r["overdue"]]
    return jsonify({"requests": reqs})


@bp.get("/dsr/<dsr_id>")
@api_doc(purpose=True, tags=["data subject requests"])
@protected("dsr", "read", purpose="required")
def get(dsr_id: str) -> Any:
    return jsonify(service.request_json(service.get_request(db_session(), dsr_id)))


@bp.post("/dsr/<dsr_id>/verify")
@api_doc(body=VerifyIn, body_required=False, purpose=True, tags=["data subject requests"])
@protected("dsr", "write", purpose="required")
def verify(dsr_id: str) -> Any:
    req = service.get_request(db_session(), dsr_id)
    service.verify_request(db_session(), req, method=str(_body().get("method", "manual")), **_who())
    return jsonify(service.request_json(req))


@bp.post("/dsr/<dsr_id>/refuse")
@api_doc(body=RefuseIn, purpose=True, tags=["data subject requests"])
@protected("dsr", "write", purpose="required")
def refuse(dsr_id: str) -> Any:
    req = service.get_request(db_session(), dsr_id)
    reason = _body().get("reason")
    if not isinstance(reason, str):
        raise ValidationError("a refusal needs a reason")
    service.refuse_request(db_session(), req, reason=reason,
                           policies=current_platform().policies, **_who())
    return jsonify(service.request_json(req))


@bp.post("/dsr/<dsr_id>/approve")
@api_doc(purpose=True, tags=["data subject requests"])
@protected("dsr", "write", purpose="required")
def approve(dsr_id: str) -> Any:
    """A second person's approval of a verified access or erasure request (four eyes,
    ``policies/retention.toml [dsr] four_eyes``): whoever approves cannot execute it."""
    req = service.get_request(db_session(), dsr_id)
    service.approve_request(db_session(), current_platform(), req, **_who())
    return jsonify(service.request_json(req))


@bp.post("/dsr/<dsr_id>/execute")
@api_doc(body=ExecuteIn, body_required=False, purpose=True, tags=["data subject requests"])
@protected("dsr", "write", purpose="required")
def execute(dsr_id: str) -> Any:
    """Carry out a verified (and, where the policy asks, approved) request. An access
    request's package is not in the response: it is sealed under a one-time token, returned
    here once, for the data subject to download (``POST /v1/dsr/{id}/package``)."""
    session = db_session()
    req = service.get_request(session, dsr_id)
    changes = _body().get("changes")
    out = service.execute_request(session, current_platform(), req, changes=changes, **_who())
    if req.kind == "access":
        return jsonify({"request": service.request_json(req), "delivery": out["delivery"]})
    return jsonify({"request": service.request_json(req), "result": out})


@bp.post("/dsr/<dsr_id>/package")
@api_doc(body=PackageDownloadIn, tags=["data subject requests"], public=True,
         content_types=("application/json", "text/csv; charset=utf-8"))
def download_package(dsr_id: str) -> Any:
    """The access package, once, for the one-time token given when the request was executed
    (no API key: the token is the data subject's). JSON, or CSV with ``format: csv``."""
    from cdp.access.ratelimit import client_address, current_limiter
    from cdp.rights.package import package_csv

    limiter, address = current_limiter(), client_address()
    limiter.check_anonymous(address)  # a token guesser is unauthenticated traffic
    limiter.count_anonymous(address)
    body = _body()
    token, fmt = body.get("token"), body.get("format", "json")
    if not isinstance(token, str) or fmt not in ("json", "csv"):
        raise ValidationError("send {\"token\": \"...\", \"format\": \"json\" | \"csv\"}",
                              code="bad_body")
    session = db_session()
    try:
        req = service.get_request(session, dsr_id)
    except NotFound:
        raise NotFound("no package to download with that token",
                       code="package_not_available") from None
    package = service.download_package(session, req, token, request_id=request_id(),
                                       client=address)
    if fmt == "csv":
        return Response(package_csv(package), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="dsr-{req.id}.csv"'})
    return jsonify(package)


@bp.get("/retained/<customer_id>")
@api_doc(purpose=True, tags=["data subject requests"])
@protected("retained", "read", purpose="required")
def retained(customer_id: str) -> Any:
    """What the law made the pharmacy keep after an erasure: prescription sales, adverse drug
    reaction reports (compliance roles only, audited)."""
    from cdp.rights.erasure import read_retained

    if len(customer_id) > 32:
        raise NotFound("no retained records")
    from cdp.access.ratelimit import spend_customer_records

    spend_customer_records(current_access().principal.key_prefix, 1)
    session = db_session()
    rows = read_retained(session, current_platform(), customer_id)
    record(session, current_access().audit(action="retained.read", customer_id=customer_id,
                                           categories=["health", "identity", "government_id"],
                                           detail={"records": len(rows)}))
    if not rows:
        raise NotFound("no retained records")
    return jsonify({"customer_id": customer_id, "records": rows})

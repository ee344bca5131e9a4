"""Data subject requests: a state machine with deadlines, and the acts they carry out.

received -> verified -> in_progress -> completed; any open state -> refused (with a reason).
Every transition and every act is written to the audit log in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.db import utcnow
from cdp.errors import Conflict, Forbidden, NotFound, ValidationError
from cdp.identity.models import Consent, Customer
from cdp.platform import Platform
from cdp.policyfiles import PolicyFiles
from cdp.rights.models import DsrRequest
from cdp.rights.policy import load_retention

KINDS = ("access", "correction", "deletion", "restriction", "lift_restriction", "consent_withdrawal")
OPEN = ("received", "verified", "in_progress")
TRANSITIONS = {
    "received": {"verified", "refused"},
    "verified": {"in_progress", "refused"},
    "in_progress": {"completed", "refused"},
    "completed": set(),
    "refused": set(),
}
CORRECTABLE = ("name", "gender", "birth_date", "address")


def _audit(session: Session, req: DsrRequest, action: str, actor: str, *, role: str | None = None,
           request_id: str | None = None, categories: tuple[str, ...] = (),
           detail: dict[str, Any] | None = None) -> None:
    record(session, AuditEntry(
        actor=actor, role=role, purpose="data_subject_request", action=action,
        customer_id=req.customer_id, categories=categories, request_id=request_id,
        detail={"dsr_id": req.id, "kind": req.kind, "status": req.status, **(detail or {})},
    ))


def _move(req: DsrRequest, status: str) -> None:
    if status not in TRANSITIONS[req.status]:
        raise Conflict(f"a {req.status} request cannot become {status}", code="invalid_transition")
    req.status = status


def get_request(session: Session, dsr_id: str) -> DsrRequest:
    req = session.get(DsrRequest, dsr_id) if isinstance(dsr_id, str) and len(dsr_id) <= 32 else None
    if req is None:
        raise NotFound("no such data subject request")
    return req


def resolve_customer(session: Session, customer_id: str) -> Customer:
    """The customer a request is about, following merges to the survivor."""
    well_formed = isinstance(customer_id, str) and len(customer_id) <= 32
    c = session.get(Customer, customer_id) if well_formed else None
    seen = 0
    while c is not None and c.status == "merged" and c.merged_into and seen < 16:
        c = session.get(Customer, c.merged_into)
        seen += 1
    if c is None:
        raise NotFound("no such customer")
    return c


def create_request(session: Session, platform: Platform, customer_id: str, kind: str, *,
                   actor: str, channel: str = "web", detail: dict[str, Any] | None = None,
                   role: str | None = None, request_id: str | None = None) -> DsrRequest:
    """Record a received request with its deadline (policies/retention.toml [dsr])."""
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}")
    detail = dict(detail or {})
    if kind == "consent_withdrawal":
        purposes = detail.get("purposes")
        if (not isinstance(purposes, list) or not purposes
                or not all(isinstance(p, str) and 0 < len(p) <= 64 for p in purposes)):
            raise ValidationError("consent_withdrawal needs a list of purposes")
    customer = resolve_customer(session, customer_id)
    if customer.status == "erased":
        raise Conflict("this customer has been erased", code="erased")
    now = utcnow()
    policy = load_retention(platform.policies)
    req = DsrRequest(customer_id=customer.id, kind=kind, status="received", received_at=now,
                     due_at=now + policy.dsr_deadline, channel=str(channel)[:64], actor=actor,
                     detail=detail, result={})
    session.add(req)
    session.flush()
    _audit(session, req, "dsr.receive", actor, role=role, request_id=request_id)
    return req


def verify_request(session: Session, req: DsrRequest, *, actor: str, method: str = "manual",
                   role: str | None = None, request_id: str | None = None) -> DsrRequest:
    """The requester's identity was checked (``method`` names how, never with values)."""
    _move(req, "verified")
    req.verified_at = utcnow()
    req.detail = {**req.detail, "verification": str(method)[:64], "verified_by": actor}
    _audit(session, req, "dsr.verify", actor, role=role, request_id=request_id)
    return req


def approve_request(session: Session, platform: Platform, req: DsrRequest, *, actor: str,
                    role: str | None = None, request_id: str | None = None) -> DsrRequest:
    """A second person's approval of a verified request whose kind needs four eyes
    (``policies/retention.toml [dsr] four_eyes``). The approver cannot be the executor."""
    if req.status != "verified":
        raise Conflict("only a verified request can be approved", code="invalid_transition")
    if req.kind not in load_retention(platform.policies).four_eyes:
        raise Conflict(f"a {req.kind} request needs no approval", code="approval_not_needed")
    req.detail = {**req.detail, "approved_by": actor, "approved_at": utcnow().isoformat()}
    _audit(session, req, "dsr.approve", actor, role=role, request_id=request_id)
    return req


def _check_four_eyes(req: DsrRequest, policy: Any, actor: str) -> None:
    if req.kind not in policy.four_eyes:
        return
    approver = req.detail.get("approved_by")
    if not approver:
        raise Conflict(f"a {req.kind} request needs a second person's approval before it is "
                       "executed (POST /v1/dsr/{id}/approve)", code="approval_required")
    if approver == actor:
        raise Forbidden("the approver of a request cannot also execute it: a second person "
                        "must do one of the two", code="second_person_required")


def refuse_request(session: Session, req: DsrRequest, *, actor: str, reason: str,
                   role: str | None = None, request_id: str | None = None,
                   policies: PolicyFiles | None = None) -> DsrRequest:
    if not reason or not reason.strip():
        raise ValidationError("a refusal needs a reason")
    _move(req, "refused")
    from cdp.pii.redact import redact_text

    # Free text about a person (stored in clear, shown in listings): redacted like any note.
    req.refused_reason = redact_text(reason.strip()[:2000], "storage", policies=policies).text
    req.completed_at = utcnow()
    _audit(session, req, "dsr.refuse", actor, role=role, request_id=request_id)
    return req


def execute_request(session: Session, platform: Platform, req: DsrRequest, *, actor: str,
                    changes: dict[str, Any] | None = None, role: str | None = None,
                    request_id: str | None = None) -> dict[str, Any]:
    """Carry out a verified request and complete it. Returns the result (for an access
    request: the package, which is handed over and not stored)."""
    if req.status != "verified":
        raise Conflict("only a verified request can be executed", code="invalid_transition")
    policy = load_retention(platform.policies)
    _check_four_eyes(req, policy, actor)
    if req.kind == "correction":
        from cdp.rights.correction import check_correction

        changes = _check_changes(changes)
        # Refused before the request moves on, so a bad correction can be sent again.
        check_correction(session, platform, req.customer_id, changes)
    _move(req, "in_progress")
    session.flush()
    out: dict[str, Any]
    if req.kind == "access":
        from cdp.rights.delivery import seal_package
        from cdp.rights.package import build_package

        package = build_package(session, platform, req.customer_id)
        req.result = {"channels": len(package["channels"]), "accesses": len(package["accesses"])}
        expires_at = utcnow() + policy.package_expiry
        # Not handed to the executor: sealed under a one-time token for the data subject.
        token = seal_package(req, package, expires_at)
        out = {"delivery": {"token": token, "expires_at": expires_at.isoformat(),
                            "download": f"/v1/dsr/{req.id}/package"}}
        from cdp.rights.hooks import section_categories

        cats: tuple[str, ...] = (
            "contact", "government_id", "platform_id", "identity", "demographic", "address",
            "health", "purchase", "free_text", "consent")
        cats += tuple(c for c in section_categories(package) if c not in cats)
        _audit(session, req, "dsr.access_package", actor, role=role, request_id=request_id,
               categories=cats)
    elif req.kind == "deletion":
        from cdp.rights.erasure import erase_customer

        res = erase_customer(session, platform, req.customer_id, rx_keep=policy.rx_keep, actor=actor)
        req.result = {k: v for k, v in asdict(res).items() if k != "customers"} | {
            "customers": len(res.customers)}
        out = dict(req.result)
        _audit(session, req, "dsr.delete", actor, role=role, request_id=request_id,
               detail={"records_deleted": res.records_deleted, "keys_shredded": res.keys_shredded,
                       "retained": res.retained})
    elif req.kind in ("restriction", "lift_restriction"):
        customer = session.get(Customer, req.customer_id)
        if customer is None:
            raise NotFound("the request's customer does not exist")
        customer.status = "restricted" if req.kind == "restriction" else "active"
        customer.updated_at = utcnow()
        req.result = {"status": customer.status}
        out = dict(req.result)
        _audit(session, req, f"dsr.{req.kind}", actor, role=role, request_id=request_id)
    elif req.kind == "consent_withdrawal":
        purposes = list(req.detail.get("purposes", []))
        withdraw_consent(session, req.customer_id, purposes, channel=f"dsr:{req.channel}"[:64])
        req.result = {"withdrawn": purposes}
        out = dict(req.result)
        _audit(session, req, "dsr.consent_withdrawal", actor, role=role, request_id=request_id,
               categories=("consent",), detail={"purposes": purposes})
    else:  # correction
        from cdp.rights.correction import apply_correction

        if changes is None:  # set by _check_changes above for every correction
            raise RuntimeError("a correction reached execution without checked changes")
        apply_correction(session, platform, req, changes, actor=actor)
        req.result = {**(req.result or {}), "fields": sorted(changes)}
        out = dict(req.result)
        _audit(session, req, "dsr.correction", actor, role=role, request_id=request_id,
               categories=("identity", "demographic", "address")
               + (("contact", "government_id", "platform_id") if "identifiers" in changes else ()),
               detail={"fields": sorted(changes)})
    _move(req, "completed")
    req.completed_at = utcnow()
    session.flush()
    return out


def _check_changes(changes: dict[str, Any] | None) -> dict[str, str]:
    if not isinstance(changes, dict) or not changes:
        raise ValidationError(f"a correction needs changes to one of: {', '.join(CORRECTABLE)}")
    bad = [k for k in changes if k not in CORRECTABLE and k != "identifiers"]
    if bad:
        raise ValidationError(f"only these fields can be corrected: {', '.join(CORRECTABLE)}, identifiers")
    from cdp.rights.correction import identifier_fixes

    identifier_fixes(changes)  # validates the identifier corrections
    if not all(isinstance(v, str) and 0 < len(v) <= 500 for k, v in changes.items() if k != "identifiers"):
        raise ValidationError("corrected values must be non-empty strings")
    if "birth_date" in changes:
        from datetime import date

        try:
            date.fromisoformat(changes["birth_date"])
        except ValueError:
            raise ValidationError("birth_date must be YYYY-MM-DD") from None
    if "gender" in changes and changes["gender"] not in ("male", "female", "other", "unknown"):
        raise ValidationError("gender must be male, female, other or unknown")
    return dict(changes)


def withdraw_consent(session: Session, customer_id: str, purposes: list[str], *,
                     channel: str = "dsr", version: str | None = None) -> None:
    """Record a withdrawal per purpose; being the newest decision, it wins at once."""
    now = utcnow()
    for p in purposes:
        session.add(Consent(customer_id=customer_id, purpose=p, granted=False, at=now,
                            channel=channel, version=version, created_at=now))
    customer = session.get(Customer, customer_id)
    if customer is not None:
        customer.updated_at = now
    session.flush()


def flag_overdue(session: Session, *, actor: str = "scheduler") -> int:
    """Mark open requests past their deadline (once each) and audit it. Returns how many."""
    now = utcnow()
    reqs = list(session.scalars(select(DsrRequest).where(
        DsrRequest.status.in_(OPEN), DsrRequest.due_at < now, DsrRequest.overdue_at.is_(None))))
    for req in reqs:
        req.overdue_at = now
        _audit(session, req, "dsr.overdue", actor, detail={"due_at": req.due_at.isoformat()})
    session.flush()
    return len(reqs)


def request_json(req: DsrRequest) -> dict[str, Any]:
    def iso(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "id": req.id, "customer_id": req.customer_id, "kind": req.kind, "status": req.status,
        "received_at": iso(req.received_at), "due_at": iso(req.due_at),
        "verified_at": iso(req.verified_at), "completed_at": iso(req.completed_at),
        "overdue": req.overdue_at is not None or (req.status in OPEN and req.due_at < utcnow()),
        "refused_reason": req.refused_reason, "channel": req.channel,
        "detail": req.detail, "result": _public_result(req.result),
    }


def _public_result(result: dict[str, Any] | None) -> dict[str, Any]:
    from cdp.rights.delivery import RESULT_KEY, public_state

    out = {k: v for k, v in (result or {}).items() if k != RESULT_KEY}
    delivery = public_state(result)
    if delivery is not None:
        out[RESULT_KEY] = delivery
    return out


def download_package(session: Session, req: DsrRequest, token: str, *,
                     request_id: str | None = None, client: str | None = None) -> dict[str, Any]:
    """The access package of ``req`` for its one-time ``token``, once (audited)."""
    from cdp.rights.delivery import open_package

    package = open_package(req, token)
    _audit(session, req, "dsr.package_download", f"subject:dsr:{req.id}"[:128],
           request_id=request_id,
           categories=("contact", "government_id", "platform_id", "identity", "demographic",
                       "address", "health", "purchase", "free_text", "consent"),
           detail={"client": client} if client else None)
    session.flush()
    return package

"""The one place a request is authenticated and authorised before a handler's body runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import g, request

from cdp.access.apikeys import KEY_PREFIX, authenticate
from cdp.access.policy import PolicySet, policy_store
from cdp.audit.log import AuditEntry, record
from cdp.errors import CdpError, Forbidden, Unauthorized, ValidationError
from cdp.http import current_platform, db_session, request_id

F = TypeVar("F", bound=Callable[..., Any])
PURPOSE_HEADER = "X-Purpose-Of-Use"


@dataclass(frozen=True)
class Principal:
    key_id: int
    key_prefix: str
    role: str

    @property
    def actor(self) -> str:
        return f"apikey:{self.key_prefix}"


@dataclass(frozen=True)
class AccessContext:
    """Who is asking, for which purpose, under which policy: set before a handler's body."""

    principal: Principal
    purpose: str | None
    policy: PolicySet

    @property
    def role(self) -> str:
        return self.principal.role

    def audit(self, **kw: Any) -> AuditEntry:
        """An audit entry pre-filled with actor, role, purpose and request id."""
        return AuditEntry(
            actor=self.principal.actor,
            role=self.role,
            purpose=self.purpose,
            request_id=request_id(),
            **kw,
        )

    def audit_context(self) -> dict[str, Any]:
        """Role, purpose and request id, for services that write their own audit entries."""
        return {"role": self.role, "purpose": self.purpose, "request_id": request_id()}


def current_policy() -> PolicySet:
    """The policy in force (reloaded when the policy files change; see PolicyStore)."""
    return policy_store(current_platform().config.policy_dir).current()


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized("authentication required")
    return principal


def current_access() -> AccessContext:
    ctx = g.get("access")
    if ctx is None:
        raise Unauthorized("authentication required")
    return ctx


def _presented_prefix(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX and parts[1].isalnum() and len(parts[1]) <= 24:
        return parts[1]
    return None


def authenticate_request(audit_action: str | None = None) -> Principal:
    """The principal of the Bearer key; refusals are audited (actor = the presented prefix)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    try:
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send `Authorization: Bearer <api key>`", code="missing_api_key")
        key = authenticate(db_session(), token)
    except Unauthorized as exc:
        if audit_action:
            prefix = _presented_prefix(token) if token else None
            record(
                db_session(),
                AuditEntry(
                    actor=f"apikey:{prefix}" if prefix else "anonymous",
                    action=audit_action,
                    decision="deny",
                    request_id=request_id(),
                    customer_id=_customer_arg(),
                    detail={"reason": exc.code},
                ),
            )
        raise
    principal = Principal(key_id=key.id, key_prefix=key.prefix, role=key.role)
    g.principal = principal
    return principal


def _customer_arg() -> str | None:
    value = (request.view_args or {}).get("customer_id")
    return value if isinstance(value, str) and len(value) <= 32 else None


def _deny(
    principal: Principal, purpose: str | None, action: str, reason: str, exc: CdpError
) -> CdpError:
    record(
        db_session(),
        AuditEntry(
            actor=principal.actor,
            role=principal.role,
            purpose=purpose,
            action=action,
            decision="deny",
            request_id=request_id(),
            customer_id=_customer_arg(),
            detail={"reason": reason},
        ),
    )
    return exc


def protected(resource: str, action: str, *, purpose: str = "optional") -> Callable[[F], F]:
    """Authenticate, then decide (role, resource, action, purpose) before the handler runs.

    ``purpose``: "required" for endpoints serving personal data (header X-Purpose-Of-Use
    must name a purpose the role may use for this action), "optional" (checked when sent).
    Every refusal is audited; the handler finds the decision in ``current_access()``.
    """
    audit_action = f"{resource}.{action}"

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate_request(audit_action)
            policy = current_policy()
            stated = request.headers.get(PURPOSE_HEADER, "").strip() or None
            if stated is not None and stated not in policy.purposes:
                raise _deny(
                    principal,
                    None,
                    audit_action,
                    "unknown_purpose",
                    ValidationError(
                        f"{PURPOSE_HEADER} must be one of: {', '.join(sorted(policy.purposes))}",
                        code="unknown_purpose",
                        status=400,
                    ),
                )
            if stated is None and purpose == "required":
                allowed = [
                    p for p in policy.purposes_for(principal.role, resource, action) if p != "*"
                ]
                raise _deny(
                    principal,
                    None,
                    audit_action,
                    "purpose_required",
                    ValidationError(
                        f"personal data is served only for a stated purpose: send {PURPOSE_HEADER}"
                        + (f" (your role may use: {', '.join(allowed)})" if allowed else ""),
                        code="purpose_required",
                        status=400,
                    ),
                )
            if not policy.allows(principal.role, resource, action, stated):
                allowed = policy.purposes_for(principal.role, resource, action)
                if allowed and stated is not None:
                    raise _deny(
                        principal,
                        stated,
                        audit_action,
                        "purpose_not_permitted",
                        Forbidden(
                            f"role {principal.role!r} may not {action} {resource} for purpose {stated!r}; "
                            f"permitted: {', '.join(allowed)}",
                            code="purpose_not_permitted",
                        ),
                    )
                raise _deny(
                    principal,
                    stated,
                    audit_action,
                    "role_not_permitted",
                    Forbidden(f"role {principal.role!r} may not {action} {resource}"),
                )
            g.access = AccessContext(principal=principal, purpose=stated, policy=policy)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # functools.wraps: the view's own signature

    return decorate

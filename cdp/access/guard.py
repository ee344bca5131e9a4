"""The one place a request is authenticated and authorised before a handler's body runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import g, request

from cdp.access.apikeys import authenticate
from cdp.access.policy import PolicySet, policy_store
from cdp.audit.log import AuditEntry, record
from cdp.errors import CdpError, Forbidden, Unauthorized, ValidationError
from cdp.http import current_platform, customer_arg, db_session, request_id

F = TypeVar("F", bound=Callable[..., Any])
PURPOSE_HEADER = "X-Purpose-Of-Use"


@dataclass(frozen=True)
class Principal:
    """Who is asking: an API key, or a person signed in to the console (``user_id``)."""

    key_id: int | None
    key_prefix: str
    role: str
    user_id: int | None = None
    user_name: str | None = None

    @property
    def actor(self) -> str:
        if self.user_name is not None:
            return f"user:{self.user_name}"
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
    return policy_store(current_platform().policies).current()


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


def authenticate_request(audit_action: str | None = None) -> Principal:
    """The principal of the Bearer key, counted against that key's rate limit.

    Before the key is checked, a client address over its limit of unauthenticated requests
    (or all of them over the global one) is refused with 429, without a database read,
    unless its key is one this process recently found valid. A failed authentication counts
    against the address, never against the key it names, and is audited in aggregate (see
    ``cdp.access.ratelimit``): actor ``anonymous``, the address and the count.
    """
    from cdp.access.apikeys import recently_valid
    from cdp.access.ratelimit import client_address, current_limiter, worth_auditing

    limiter = current_limiter()
    address = client_address()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    session = db_session()
    if not recently_valid(token, str(session.get_bind().engine.url)):
        limiter.check_anonymous(address)
    try:
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send `Authorization: Bearer <api key>`", code="missing_api_key")
        key = authenticate(session, token)
    except Unauthorized as exc:
        limiter.count_anonymous(address)
        if exc.code == "revoked_api_key" and audit_action:
            # The secret matched: whoever sent it holds that key. Its use after revocation
            # is on record under the key, once per attempt (the address limit bounds them).
            record(
                session,
                AuditEntry(
                    actor=f"apikey:{token.split('_', 2)[1]}",
                    action=audit_action,
                    decision="deny",
                    request_id=request_id(),
                    customer_id=customer_arg(),
                    detail={"reason": exc.code, "client": address},
                ),
            )
            raise
        denied, window = limiter.count_denial(address)
        if audit_action and worth_auditing(denied):
            record(
                session,
                AuditEntry(
                    actor="anonymous",
                    action="auth.denied",
                    decision="deny",
                    request_id=request_id(),
                    detail={
                        "reason": exc.code,
                        "client": address,
                        "denied_in_window": denied,
                        "window_start": window,
                        "endpoint": audit_action,
                    },
                ),
            )
        raise
    principal = Principal(key_id=key.id, key_prefix=key.prefix, role=key.role)
    # set before counting: a refusal over the key's request limit is audited under it
    g.principal = principal
    if not g.get("cdp_key_counted"):  # a read retried after a lost connection counts once
        limiter.count_key_request(key.prefix)
        g.cdp_key_counted = True
    return principal


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
            customer_id=customer_arg(),
            detail={"reason": reason},
        ),
    )
    return exc


def authorize(
    principal: Principal, stated: str | None, resource: str, action: str, *, purpose: str = "optional"
) -> AccessContext:
    """Decide (role, resource, action, stated purpose) for ``principal``; the access context
    when allowed. Every refusal is audited and raised. The API (``protected``) and the
    console both decide through here: one rule set, one audit trail."""
    audit_action = f"{resource}.{action}"
    policy = current_policy()
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
        raise _deny(
            principal,
            None,
            audit_action,
            "purpose_required",
            ValidationError(
                f"personal data is served only for a stated purpose: send {PURPOSE_HEADER}",
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
                # The purposes that would work are not listed: a refusal is no
                # menu of ways in (issue 18); the role's holder has the policy.
                Forbidden(
                    f"role {principal.role!r} may not {action} {resource} "
                    f"for purpose {stated!r}",
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
    return AccessContext(principal=principal, purpose=stated, policy=policy)


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
            g.cdp_audit_action = audit_action  # for the audit of a refusal over a limit
            principal = authenticate_request(audit_action)
            stated = request.headers.get(PURPOSE_HEADER, "").strip() or None
            g.access = authorize(principal, stated, resource, action, purpose=purpose)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # functools.wraps: the view's own signature

    return decorate

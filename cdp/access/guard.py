"""The one place a request is authenticated and authorised before a handler's body runs."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import casbin
from flask import g, request

from cdp.access.apikeys import authenticate
from cdp.audit.log import AuditEntry, record
from cdp.errors import Forbidden, Unauthorized
from cdp.web import current_platform, db_session, request_id

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    key_id: int
    key_prefix: str
    role: str

    @property
    def actor(self) -> str:
        return f"apikey:{self.key_prefix}"


_enforcers: dict[str, casbin.Enforcer] = {}
_enforcer_lock = threading.Lock()


def enforcer(policy_dir: str) -> casbin.Enforcer:
    """The casbin enforcer for ``policy_dir`` (built once per process)."""
    e = _enforcers.get(policy_dir)
    if e is None:
        with _enforcer_lock:
            e = _enforcers.get(policy_dir)
            if e is None:
                base = Path(policy_dir)
                e = casbin.Enforcer(str(base / "model.conf"), str(base / "policy.csv"))
                _enforcers[policy_dir] = e
    return e


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized("authentication required")
    return principal


def authenticate_request() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send `Authorization: Bearer <api key>`", code="missing_api_key")
    key = authenticate(db_session(), token.strip())
    principal = Principal(key_id=key.id, key_prefix=key.prefix, role=key.role)
    g.principal = principal
    return principal


def protected(resource: str, action: str) -> Callable[[F], F]:
    """Authenticate, then let casbin decide ``(role, resource, action)``; deny is audited."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate_request()
            e = enforcer(current_platform().config.policy_dir)
            if not e.enforce(principal.role, resource, action):
                record(
                    db_session(),
                    AuditEntry(
                        actor=principal.actor,
                        role=principal.role,
                        action=f"{resource}.{action}",
                        decision="deny",
                        request_id=request_id(),
                        detail={"reason": "role_not_permitted"},
                    ),
                )
                raise Forbidden(f"role {principal.role!r} may not {action} {resource}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate

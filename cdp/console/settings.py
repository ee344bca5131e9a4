"""policies/console.toml: session lifetimes, second-factor roles, OIDC mapping, chart rules."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cdp.errors import CdpError
from cdp.policyfiles import PolicyFiles

FILE = "console.toml"


class ConsolePolicyError(CdpError):
    status = 500
    code = "policy_invalid"


@dataclass(frozen=True)
class ConsolePolicy:
    idle: timedelta = timedelta(minutes=15)
    absolute: timedelta = timedelta(hours=12)
    reauth: timedelta = timedelta(minutes=5)
    mfa_roles: frozenset[str] = frozenset({"admin"})
    oidc_role_claim: str = "groups"
    oidc_roles: dict[str, str] = field(default_factory=dict)
    min_count: int = 10

    def needs_mfa(self, role: str) -> bool:
        return role in self.mfa_roles


def parse_console_policy(data: dict[str, Any], roles: set[str]) -> ConsolePolicy:
    """Validate console.toml's content; ConsolePolicyError naming the bad entry."""
    s = data.get("sessions", {})
    try:
        idle = timedelta(minutes=float(s.get("idle_minutes", 15)))
        absolute = timedelta(hours=float(s.get("absolute_hours", 12)))
        reauth = timedelta(minutes=float(s.get("reauth_minutes", 5)))
        min_count = int(data.get("charts", {}).get("min_count", 10))
    except (TypeError, ValueError):
        raise ConsolePolicyError(f"{FILE}: session lifetimes and min_count must be numbers") from None
    if not (timedelta(0) < idle <= absolute):
        raise ConsolePolicyError(f"{FILE}: need 0 < idle_minutes <= absolute_hours")
    mfa = frozenset(data.get("mfa", {}).get("roles", ["admin"]))
    oidc = data.get("oidc", {})
    mapping = {str(k): str(v) for k, v in oidc.get("roles", {}).items()}
    for name in sorted(mfa | set(mapping.values())):
        if name not in roles:
            raise ConsolePolicyError(f"{FILE}: unknown role {name!r}; declare it in roles.toml")
    return ConsolePolicy(
        idle=idle,
        absolute=absolute,
        reauth=reauth,
        mfa_roles=mfa,
        oidc_role_claim=str(oidc.get("role_claim", "groups")),
        oidc_roles=mapping,
        min_count=max(min_count, 1),
    )


def console_policy(policies: PolicyFiles) -> ConsolePolicy:
    """The console policy of ``policies`` (re-read when console.toml or roles.toml changes;
    the defaults when there is no console.toml)."""
    return policies.load("console", _build)


def _build(files: PolicyFiles) -> ConsolePolicy:
    if not files.exists(FILE):
        return ConsolePolicy()
    roles = set(files.document("roles.toml").get("roles", {}))
    return parse_console_policy(files.document(FILE), roles)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scope: str = "openid profile email"


def oidc_settings(env: Mapping[str, str] | None = None) -> OidcSettings | None:
    env = os.environ if env is None else env
    issuer, cid, secret = (env.get(k, "").strip() for k in
                           ("CDP_OIDC_ISSUER", "CDP_OIDC_CLIENT_ID", "CDP_OIDC_CLIENT_SECRET"))
    if not (issuer and cid and secret):
        return None
    return OidcSettings(issuer.rstrip("/"), cid, secret,
                        env.get("CDP_OIDC_SCOPE", "openid profile email"))

"""policies/console.toml: session lifetimes, second-factor roles, OIDC mapping, chart rules."""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cdp.errors import CdpError

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


_cache: dict[str, tuple[int, ConsolePolicy]] = {}
_lock = threading.Lock()


def console_policy(policy_dir: str) -> ConsolePolicy:
    """The console policy of ``policy_dir`` (re-read when the file changes; the defaults
    when there is no console.toml)."""
    path = Path(policy_dir, FILE)
    try:
        stamp = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return ConsolePolicy()
    cached = _cache.get(policy_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        roles = set(tomllib.loads(Path(policy_dir, "roles.toml").read_text()).get("roles", {}))
        policy = parse_console_policy(data, roles)
        _cache[policy_dir] = (stamp, policy)
        return policy


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

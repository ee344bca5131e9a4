"""Configuration read from the environment (docs/operations.md, "Configuration"), with a test override."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Config:
    database_url: str = "sqlite:///var/cdp.db"
    keyring_path: str = "var/keyring.json"
    policy_dir: str = "policies"
    # Rate-limit storage (the `limits` library); memory:// is per process, production uses redis://.
    ratelimit_storage_uri: str = "memory://"
    # Requests per authenticated key, all endpoints together.
    ratelimit_default: str = "600/minute"
    # Customer records served per key (a lookup costs one per customer it returns).
    ratelimit_customer_data: str = "600/minute"
    # Unauthenticated requests (no key, a failed key, public documents): per client
    # address, and all addresses together.
    ratelimit_anonymous: str = "60/minute"
    ratelimit_anonymous_global: str = "600/minute"
    export_dir: str = "var/exports"
    scheduler_enabled: bool = False
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        base = cls()
        return replace(
            base,
            database_url=env.get("CDP_DATABASE_URL", base.database_url),
            keyring_path=env.get("CDP_KEYRING", base.keyring_path),
            policy_dir=env.get("CDP_POLICY_DIR") or default_policy_dir(),
            ratelimit_storage_uri=env.get("CDP_RATELIMIT_STORAGE", base.ratelimit_storage_uri),
            ratelimit_default=env.get("CDP_RATELIMIT", base.ratelimit_default),
            ratelimit_customer_data=env.get(
                "CDP_RATELIMIT_CUSTOMER_DATA", base.ratelimit_customer_data
            ),
            ratelimit_anonymous=env.get("CDP_RATELIMIT_ANONYMOUS", base.ratelimit_anonymous),
            ratelimit_anonymous_global=env.get(
                "CDP_RATELIMIT_ANONYMOUS_GLOBAL", base.ratelimit_anonymous_global
            ),
            export_dir=env.get("CDP_EXPORT_DIR", base.export_dir),
            scheduler_enabled=env.get("CDP_SCHEDULER", "0") in ("1", "true", "yes"),
        )

    def with_overrides(self, overrides: dict[str, Any] | None) -> Config:
        if not overrides:
            return self
        known = {k: v for k, v in overrides.items() if k in self.__dataclass_fields__}
        unknown = {k: v for k, v in overrides.items() if k not in self.__dataclass_fields__}
        cfg = replace(self, **known)
        if unknown:
            cfg = replace(cfg, extra={**cfg.extra, **unknown})
        return cfg


def ensure_parent(path: str) -> None:
    """Create the directory that will hold ``path`` (a file path or sqlite URL)."""
    if path.startswith("sqlite:///"):
        path = path[len("sqlite:///") :]
        if not path or path == ":memory:":
            return
    elif "://" in path:
        return  # a server database (postgresql+psycopg://...) has no local file
    Path(path).parent.mkdir(parents=True, exist_ok=True)


def default_policy_dir() -> str:
    """``policies`` in the working directory (a checkout); where there is none, the default
    policies an installed package carries under ``<prefix>/share/cdp/policies``, else the
    checkout's own (a command run from another directory)."""
    if Path("policies").is_dir():
        return "policies"
    installed = Path(sys.prefix) / "share" / "cdp" / "policies"
    if installed.is_dir():
        return str(installed)
    checkout = Path(__file__).resolve().parent.parent / "policies"
    if checkout.is_dir():
        return str(checkout)
    return "policies"

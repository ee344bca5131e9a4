"""Click glue shared by every capability's commands: the platform of this invocation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from cdp.config import Config
from cdp.platform import Platform


def get_platform() -> Platform:
    """The platform for this CLI invocation (one per process)."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    platform = root.obj.get("platform")
    if platform is None:
        platform = Platform(Config.from_env())
        root.obj["platform"] = platform
        root.call_on_close(platform.dispose)
    return platform


def known_roles(policy_dir: str) -> set[str]:
    data = tomllib.loads(Path(policy_dir, "roles.toml").read_text())
    return set(data.get("roles", {}))

"""Click glue shared by every capability's commands: the platform of this invocation."""

from __future__ import annotations

import click

from cdp.config import Config
from cdp.platform import Platform
from cdp.policyfiles import PolicyFileError, PolicyFiles


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


def known_roles(policies: PolicyFiles) -> set[str]:
    """The roles declared in roles.toml; a clean command-line error when it cannot be read."""
    try:
        return set(policies.document("roles.toml").get("roles", {}))
    except PolicyFileError as exc:
        raise click.ClickException(exc.message) from None

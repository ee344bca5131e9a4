"""`cdp access ...`: validate the policy files before they go live; show a role's views."""

from __future__ import annotations

import sys

import click

from cdp.access.policy import PolicyError, load_policy_set


@click.group("access")
def access() -> None:
    """Access policies (policies/model.conf, policy.csv, views.toml, roles.toml)."""


@access.command("check")
@click.option("--policy-dir", default=None, help="default: CDP_POLICY_DIR")
def check_cmd(policy_dir: str | None) -> None:
    """Validate the policy files; exit 0 with a summary, or 1 with the first problem.

    Running workers pick up a changed policy on their next request (they compare the files'
    mtime, size and inode on each request); run this first so a broken edit is caught here.
    """
    from cdp.config import Config
    from cdp.policyfiles import PolicyFiles

    directory = policy_dir or Config.from_env().policy_dir
    try:
        p = load_policy_set(PolicyFiles(directory))
    except PolicyError as exc:
        click.echo(f"policy invalid: {exc.message}", err=True)
        sys.exit(1)
    click.echo(
        f"policy {p.fingerprint} valid: {len(p.roles)} roles, {len(p.categories)} categories, "
        f"{len(p.purposes)} purposes, {len(p.rules)} rules"
    )


@access.command("views")
@click.argument("role")
@click.option("--purpose", default=None)
def views_cmd(role: str, purpose: str | None) -> None:
    """Print how ROLE sees each data category (optionally for one purpose)."""
    from cdp.config import Config
    from cdp.policyfiles import PolicyFiles

    try:
        p = load_policy_set(PolicyFiles(Config.from_env().policy_dir))
    except PolicyError as exc:
        raise click.ClickException(f"policy invalid: {exc.message}") from None
    if role not in p.roles:
        raise click.BadParameter(
            f"unknown role; one of: {', '.join(sorted(p.roles))}", param_hint="ROLE"
        )
    allowed = p.purposes_for(role, "customers", "read")
    click.echo(f"{role}: may read customers for {', '.join(allowed) or 'no purpose'}")
    for category in p.categories:
        cv = p.view_for(role, purpose, category)
        extra = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("level", cv.level),
                ("pii_policy", cv.pii_policy),
                ("consent", cv.consent),
            )
            if v
        )
        click.echo(f"  {category:<14} {cv.view}{f' ({extra})' if extra else ''}")

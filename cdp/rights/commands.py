"""`cdp dsr ...` (data subject requests) and `cdp retention run`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from sqlalchemy import select

from cdp.platform import Platform


def get_platform() -> Platform:
    # Imported late: cdp.cli imports this module while registering commands.
    from cdp.commandline import get_platform as _get

    return _get()


def _actor(actor: str) -> str:
    return f"cli:{actor}"[:128]


@click.group("dsr")
def dsr() -> None:
    """Data subject requests: create, verify, execute, refuse, list."""


@dsr.command("create")
@click.argument("customer_id")
@click.argument("kind")
@click.option("--purpose", "purposes", multiple=True, help="for consent_withdrawal")
@click.option("--channel", default="cli", show_default=True)
@click.option("--actor", default="operator", show_default=True)
def create_cmd(customer_id: str, kind: str, purposes: tuple[str, ...], channel: str, actor: str) -> None:
    """Record a request (KIND: access, correction, deletion, restriction, lift_restriction,
    consent_withdrawal); prints its id."""
    from cdp.rights.service import create_request

    platform = get_platform()
    with platform.transaction() as session:
        req = create_request(session, platform, customer_id, kind, actor=_actor(actor), channel=channel,
                             detail={"purposes": list(purposes)} if purposes else {})
        click.echo(req.id)
        click.echo(f"due {req.due_at.isoformat()}", err=True)


@dsr.command("verify")
@click.argument("dsr_id")
@click.option("--method", default="manual", show_default=True)
@click.option("--actor", default="operator", show_default=True)
def verify_cmd(dsr_id: str, method: str, actor: str) -> None:
    """Mark the requester's identity as verified."""
    from cdp.rights.service import get_request, verify_request

    with get_platform().transaction() as session:
        verify_request(session, get_request(session, dsr_id), actor=_actor(actor), method=method)
    click.echo("verified")


@dsr.command("refuse")
@click.argument("dsr_id")
@click.option("--reason", required=True)
@click.option("--actor", default="operator", show_default=True)
def refuse_cmd(dsr_id: str, reason: str, actor: str) -> None:
    """Refuse a request, with the reason the person will be told."""
    from cdp.rights.service import get_request, refuse_request

    platform = get_platform()
    with platform.transaction() as session:
        refuse_request(session, get_request(session, dsr_id), actor=_actor(actor), reason=reason,
                       policies=platform.policies)
    click.echo("refused")


@dsr.command("approve")
@click.argument("dsr_id")
@click.option("--actor", required=True, help="who approves (not the person who will execute)")
def approve_cmd(dsr_id: str, actor: str) -> None:
    """Second person's approval of a verified access or deletion request (four eyes)."""
    from cdp.rights.service import approve_request, get_request

    platform = get_platform()
    with platform.transaction() as session:
        approve_request(session, platform, get_request(session, dsr_id), actor=_actor(actor))
    click.echo("approved")


@dsr.command("execute")
@click.argument("dsr_id")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="for correction")
@click.option("--actor", default="operator", show_default=True)
def execute_cmd(dsr_id: str, sets: tuple[str, ...], actor: str) -> None:
    """Carry out a verified (and, for access and deletion, approved) request. For an access
    request, prints the one-time token the data subject downloads the package with."""
    from cdp.rights.service import execute_request, get_request

    changes = {}
    for s in sets:
        k, sep, v = s.partition("=")
        if not sep:
            raise click.BadParameter("use FIELD=VALUE", param_hint="--set")
        changes[k] = v
    platform = get_platform()
    with platform.transaction() as session:
        req = get_request(session, dsr_id)
        out = execute_request(session, platform, req, actor=_actor(actor), changes=changes or None)
        click.echo(json.dumps(out, ensure_ascii=False))


@dsr.command("download")
@click.argument("dsr_id")
@click.option("--token-stdin", is_flag=True, required=True,
              help="read the one-time token from standard input (never from the command line)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="directory for package.json and package.csv (mode 0600)")
def download_cmd(dsr_id: str, token_stdin: bool, out_dir: str) -> None:
    """Download an access package once, with its one-time token."""
    from cdp.rights.package import package_csv
    from cdp.rights.service import download_package, get_request

    token = click.open_file("-").readline().strip()
    platform = get_platform()
    with platform.transaction() as session:
        package = download_package(session, get_request(session, dsr_id), token)
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for name, text in (("package.json", json.dumps(package, ensure_ascii=False, indent=2)),
                           ("package.csv", package_csv(package))):
            p = d / name
            # Created owner-only (os.open with 0600), never readable in between.
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        click.echo(str(d / "package.json"))


@dsr.command("list")
@click.option("--status", default=None)
@click.option("--overdue", is_flag=True)
def list_cmd(status: str | None, overdue: bool) -> None:
    """List requests, newest first."""
    from cdp.rights.models import DsrRequest
    from cdp.rights.service import request_json

    with get_platform().transaction() as session:
        q = select(DsrRequest).order_by(DsrRequest.received_at.desc()).limit(200)
        if status:
            q = q.where(DsrRequest.status == status)
        for r in session.scalars(q):
            j = request_json(r)
            if overdue and not j["overdue"]:
                continue
            click.echo(f"{r.id}\t{r.kind}\t{r.status}\tdue={j['due_at']}\t"
                       f"{'OVERDUE' if j['overdue'] else ''}")


@dsr.command("flag-overdue")
def flag_overdue_cmd() -> None:
    """Flag open requests past their deadline (what the scheduled job does)."""
    from cdp.rights.service import flag_overdue

    with get_platform().transaction() as session:
        n = flag_overdue(session, actor="cli")
    click.echo(f"{n} requests newly overdue")


@click.group("retention")
def retention() -> None:
    """Retention rules (policies/retention.toml)."""


@retention.command("run")
def retention_run_cmd() -> None:
    """Apply the retention rules now; prints what was deleted."""
    from cdp.rights.retention import run_retention

    click.echo(json.dumps(run_retention(get_platform(), actor="cli"), sort_keys=True))

"""`cdp export ...`: run a profile now, list profiles and runs, verify a manifest."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from cdp.platform import Platform


def get_platform() -> Platform:
    # Imported late: cdp.cli imports this module while registering commands.
    from cdp.commandline import get_platform as _get

    return _get()


@click.group("export")
def export() -> None:
    """Anonymised exports (profiles in policies/exports/)."""


@export.command("run")
@click.argument("profile")
@click.option("--incremental", is_flag=True, help="only customers changed since the last run")
def run_cmd(profile: str, incremental: bool) -> None:
    """Run PROFILE now; prints the manifest path."""
    from cdp.exports.runner import run_export

    result = run_export(get_platform(), profile, mode="incremental" if incremental else "full",
                        actor="cli")
    click.echo(str(result.manifest_path))
    click.echo(f"rows {result.rows}, suppressed {result.suppressed}, k reached {result.k_reached}",
               err=True)


@export.command("profiles")
def profiles_cmd() -> None:
    """List the export profiles (validated)."""
    from cdp.exports.profiles import load_profiles

    for p in load_profiles(get_platform().policies):
        click.echo(f"{p.name}\trecipient={p.recipient}\tpurpose={p.purpose}\tk={p.k}\t"
                   f"schedule={p.schedule or '-'}\tformats={','.join(p.formats)}")


@export.command("runs")
@click.option("--profile", default=None)
def runs_cmd(profile: str | None) -> None:
    """List export runs, newest first."""
    from cdp.exports.models import ExportRun

    with get_platform().transaction() as session:
        q = select(ExportRun).order_by(ExportRun.started_at.desc()).limit(50)
        if profile:
            q = q.where(ExportRun.profile == profile)
        for r in session.scalars(q):
            click.echo(f"{r.id}\t{r.profile}\t{r.mode}\t{r.status}\trows={r.rows}\t"
                       f"suppressed={r.suppressed}\tk={r.k_reached}\t{r.started_at.isoformat()}")


@export.command("verify")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False))
def verify_cmd(manifest: str) -> None:
    """Check MANIFEST's signature (with this keyring's key) and its files' SHA-256."""
    from cdp.exports.manifest import verify

    path = Path(manifest)
    doc = json.loads(path.read_text(encoding="utf-8"))
    ok = verify(doc, get_platform().keyring.verify_key_bytes(), path.parent)
    click.echo("manifest ok" if ok else "manifest INVALID")
    raise SystemExit(0 if ok else 1)

"""`cdp audit ...`: verify the log, make a signed checkpoint, print the public key."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from cdp.audit.checkpoints import (
    SignedCheckpoint,
    create_checkpoint,
    load_public_key,
    public_key_hex,
)
from cdp.audit.log import AuditEntry, record
from cdp.audit.verify import verify_log


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option(
    "--public-key",
    "public_key",
    default=None,
    help="Ed25519 public key (hex, or a file holding it); default: the keyring's.",
)
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A checkpoint kept outside the database (JSON from `cdp audit checkpoint`).",
)
@click.option(
    "--workers",
    type=int,
    default=lambda: os.cpu_count() or 1,
    show_default="CPU count",
    help="processes for logs over 200,000 entries on PostgreSQL",
)
def verify_cmd(public_key: str | None, checkpoint_files: tuple[str, ...], workers: int) -> None:
    """Exit 0 and a one-line summary when intact; exit 1 naming the first bad entry when not."""
    from cdp.commandline import get_platform

    platform = get_platform()
    if public_key:
        p = Path(public_key)
        key = load_public_key(p.read_text() if p.is_file() else public_key)
    else:
        key = platform.keyring.verify_key
    external = [
        SignedCheckpoint.from_json(
            json.loads(Path(f).read_text()), label=f"checkpoint file {Path(f).name}"
        )
        for f in checkpoint_files
    ]
    with platform.transaction() as session:
        result = verify_log(session, key, external, workers=workers)
        record(
            session,
            AuditEntry(
                actor="cli",
                action="audit.verify",
                decision="allow",
                detail={"ok": result.ok, "entries": result.entries},
            ),
        )
    click.echo(result.summary())
    sys.exit(0 if result.ok else 1)


@audit.command("checkpoint")
def checkpoint_cmd() -> None:
    """Sign the current chain heads; prints the checkpoint JSON to keep outside the database."""
    from cdp.commandline import get_platform

    platform = get_platform()
    with platform.transaction() as session:
        row = create_checkpoint(session, platform.keyring.signing_key)
        out = SignedCheckpoint(row.statement, row.signature).to_json()
        count = row.entry_count
    click.echo(json.dumps(out))
    click.echo(f"checkpoint over {count} entries signed", err=True)


@audit.command("public-key")
def public_key_cmd() -> None:
    """The hex Ed25519 public key that verifies checkpoints."""
    from cdp.commandline import get_platform

    click.echo(public_key_hex(get_platform().keyring.verify_key))

"""`cdp audit ...`: verify the log, make a signed checkpoint, print the public key, archive
old months as signed segment files and verify those files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cdp.audit.checkpoints import (
    SignedCheckpoint,
    create_checkpoint,
    load_public_key,
    public_key_hex,
)
from cdp.audit.log import AuditEntry, record
from cdp.audit.models import AuditEvent
from cdp.audit.verify import default_workers, verify_log


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
    default=lambda: default_workers(),
    show_default="half the CPU count",
    help="processes for logs over 200,000 entries on PostgreSQL",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="entries checked so far, on stderr (default: when stderr is a terminal)",
)
def verify_cmd(
    public_key: str | None,
    checkpoint_files: tuple[str, ...],
    workers: int,
    progress: bool | None,
) -> None:
    """Exit 0 and a one-line summary when intact; exit 1 naming the first bad entry when not."""
    from cdp.commandline import get_platform

    platform = get_platform()
    key = _public_key(public_key) if public_key else platform.keyring.verify_key
    external = [
        SignedCheckpoint.from_json(
            json.loads(Path(f).read_text()), label=f"checkpoint file {Path(f).name}"
        )
        for f in checkpoint_files
    ]
    show = sys.stderr.isatty() if progress is None else progress
    with platform.transaction() as session:
        reporter = _ProgressLine(_approx_entries(session)) if show else None
        result = verify_log(session, key, external, workers=workers, progress=reporter)
        if reporter is not None:
            reporter.finish()
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


def _public_key(value: str) -> Ed25519PublicKey:
    p = Path(value)
    return load_public_key(p.read_text() if p.is_file() else value)


def _approx_entries(session: Session) -> int:
    """The live log's size from its id range (two index lookups, no count)."""
    lo, hi = session.execute(select(func.min(AuditEvent.id), func.max(AuditEvent.id))).one()
    return 0 if hi is None else int(hi) - int(lo) + 1


class _ProgressLine:
    """``verifying 420,000 / ~1,000,000 entries (42%)`` rewritten in place on stderr, at
    most a few times a second."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        pct = f" ({min(100, 100 * done // self.total)}%)" if self.total else ""
        click.echo(f"\rverifying {done:,} / ~{self.total:,} entries{pct}", err=True, nl=False)

    def finish(self) -> None:
        click.echo("\r\033[K" if sys.stderr.isatty() else "", err=True, nl=not sys.stderr.isatty())


@audit.command("partitions")
@click.option("--ahead", type=click.IntRange(0, 24), default=3, show_default=True,
              help="months to create ahead of the current one")
def partitions_cmd(ahead: int) -> None:
    """PostgreSQL: make the month partitions up to AHEAD months ahead, then list them.

    The scheduled checkpoint job does the same every time it runs."""
    from cdp.audit.archive import ensure_partitions, partitions
    from cdp.commandline import get_platform

    platform = get_platform()
    with platform.transaction() as session:
        made = ensure_partitions(session, ahead)
        parts = partitions(session)
    if not parts:
        click.echo("the audit log is not partitioned (SQLite)")
        return
    for p in parts:
        lower = "-infinity" if p.lower is None else f"{p.lower:%Y-%m-%d}"
        click.echo(f"{p.name}\t{lower}\t{p.upper:%Y-%m-%d}")
    click.echo(f"{made} partitions made", err=True)


@audit.command("archive")
@click.option("--before", "before", required=True, metavar="YYYY-MM",
              help="archive every month partition wholly before this month")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="directory for the segment file")
@click.option("--drop", is_flag=True,
              help="drop the detached partitions (default: keep them as plain tables)")
def archive_cmd(before: str, out_dir: str, drop: bool) -> None:
    """PostgreSQL: write old months to a signed segment file and detach their partitions.

    Run as the table owner (the migration role): detaching is DDL, which ``cdp_app`` may not
    do. Prints the segment file's path. `cdp audit verify` then starts each chain at the
    segment's signed end; `cdp audit verify-segment FILE` checks the file on its own."""
    from cdp.audit.archive import ArchiveError, archive_before, month_start
    from cdp.commandline import get_platform

    platform = get_platform()
    when = month_start(before)
    try:
        with platform.transaction() as session:
            res = archive_before(
                session, when, Path(out_dir), platform.keyring.signing_key, drop=drop
            )
            record(
                session,
                AuditEntry(
                    actor="cli",
                    action="audit.archive",
                    decision="allow",
                    detail={
                        "before": when.isoformat(),
                        "entries": res.entries,
                        "partitions": res.partitions,
                        "file": res.path.name,
                        "dropped": res.dropped,
                    },
                ),
            )
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(res.path))
    click.echo(
        f"archived {res.entries} entries from {', '.join(res.partitions)}; "
        f"{'dropped' if res.dropped else 'detached'}",
        err=True,
    )


@audit.command("verify-segment")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key", default=None,
              help="Ed25519 public key (hex, or a file holding it); default: the key the "
                   "segment names (then the check proves integrity, not authorship)")
def verify_segment_cmd(files: tuple[str, ...], public_key: str | None) -> None:
    """Check archived segment files with no database: signature, digest, every entry's hash
    and link; given several (oldest first), that each continues the one before.
    Exit 0 when all hold, 1 otherwise."""
    from cdp.audit.archive import verify_segment_file, verify_segment_sequence

    key = _public_key(public_key) if public_key else None
    checks = [verify_segment_file(Path(f), key) for f in files]
    for c in checks:
        click.echo(c.summary())
    problems = verify_segment_sequence(checks) if all(c.ok for c in checks) else []
    for p in problems:
        click.echo(f"sequence BAD: {p}")
    sys.exit(0 if all(c.ok for c in checks) and not problems else 1)

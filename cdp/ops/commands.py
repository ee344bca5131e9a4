"""`cdp restore-check`: after restoring a backup, prove every stored value opens."""

from __future__ import annotations

import sys

import click


@click.command("restore-check")
def restore_check() -> None:
    """Try to decrypt every encrypted value with this keyring; exit 0 when all open.

    Run after a restore (with `cdp audit verify`): a database restored without its keyring,
    or with another one, fails here on every value."""
    from cdp.commandline import get_platform
    from cdp.ops.restore_check import check_every_value

    platform = get_platform()
    with platform.transaction() as session:
        report = check_every_value(session, platform.keys)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)

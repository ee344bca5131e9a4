"""The `cdp` command line (docs/cli.md): the root group, `init`, `keys` and `serve`, and each
capability's commands. Each command owns its transaction."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from cdp.commandline import get_platform, known_roles
from cdp.config import Config, ensure_parent
from cdp.crypto.keyring import Keyring, load_or_create
from cdp.db.engine import secure_sqlite_files
from cdp.errors import CdpError
from cdp.log_config import configure_logging
from cdp.platform import upgrade_schema

# (module, attribute) of each capability's click command or group.
COMMAND_MODULES: list[tuple[str, str]] = [
    ("cdp.exports.commands", "export"),
    ("cdp.jobs.commands", "jobs"),
    ("cdp.rights.commands", "dsr"),
    ("cdp.rights.commands", "retention"),
    ("cdp.identity.commands", "ingest"),
    ("cdp.identity.commands", "identity"),
    ("cdp.pii.commands", "pii"),
    ("cdp.audit.commands", "audit"),
    ("cdp.access.commands", "access"),
    ("cdp.ops.commands", "restore_check"),
    ("cdp.crm.commands", "crm"),
    ("cdp.console.commands", "users"),
]


class CdpGroup(click.Group):
    """Turns platform errors into a one-line message and exit code 2, never a traceback.

    The commands of COMMAND_MODULES (named as their attribute) are imported when first used:
    `cdp audit verify` should not pay seconds of start-up importing Presidio for `cdp ingest`.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = {attr.replace("_", "-") for _, attr in COMMAND_MODULES}
        return sorted(set(super().list_commands(ctx)) | names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            for module, attr in COMMAND_MODULES:
                if attr.replace("_", "-") == cmd_name:
                    self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CdpError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(2)


@click.group(cls=CdpGroup)
def cli() -> None:
    """Privacy-first customer data platform."""
    configure_logging()
    # Every model on the metadata before any command runs (foreign keys resolve by table
    # name, and the command modules are imported lazily).
    import cdp.models  # noqa: F401
    from cdp import extensions

    extensions.install()


@cli.command()
def init() -> None:
    """Create or upgrade the schema and create a keyring if none exists. Idempotent."""
    cfg = Config.from_env()
    ensure_parent(cfg.database_url)
    upgrade_schema(cfg.database_url)
    # A database made by an older version (or copied in) is tightened too.
    secure_sqlite_files(cfg.database_url)
    _, created = load_or_create(cfg.keyring_path)
    click.echo(
        f"schema at head; keyring {'created' if created else 'present'} at {cfg.keyring_path}"
    )


@cli.group()
def keys() -> None:
    """API keys and key-encryption keys."""


@keys.command("create")
@click.option("--role", required=True)
@click.option("--name", default=None)
def keys_create(role: str, name: str | None) -> None:
    """Create an API key; prints it once (only its hash is stored)."""
    from cdp.access.apikeys import create_key

    platform = get_platform()
    roles = known_roles(platform.policies)
    if role not in roles:
        raise click.BadParameter(f"unknown role; one of: {', '.join(sorted(roles))}", param_hint="--role")
    with platform.transaction() as session:
        row, key = create_key(session, role, name)
        click.echo(key)
        click.echo(f"role={row.role} prefix={row.prefix} (store it now: it is not shown again)", err=True)


@keys.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the API key with PREFIX (the part after `cdp_`)."""
    from cdp.access.apikeys import revoke_key

    with get_platform().transaction() as session:
        revoke_key(session, prefix)
    click.echo(f"revoked {prefix}")


@keys.command("rotate")
@click.option("--batch-size", default=1000, show_default=True)
def keys_rotate(batch_size: int) -> None:
    """Add a key-encryption key, then rewrap every data key under it (online, in batches)."""
    platform = get_platform()
    ring: Keyring = platform.keyring
    version = ring.add_kek()
    ring.save()
    total = 0
    while True:
        with platform.transaction() as session:
            n = platform.keys.rewrap_batch(session, batch_size)
        total += n
        if n == 0:
            break
    click.echo(f"key-encryption key v{version} is current; rewrapped {total} data keys")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="gunicorn worker processes [default: one per core]")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="threads per worker [default: 4]")
@click.option("--dev", is_flag=True, help="Flask's development server with its reloader")
def serve(host: str, port: int, workers: int | None, threads: int | None, dev: bool) -> None:
    """Run the HTTP service under gunicorn (Ctrl-C or SIGTERM stops it cleanly)."""
    from cdp import server

    if dev:
        server.serve_dev(host, port)
    else:
        server.serve(host, port, workers=workers, threads=threads)




def main() -> None:
    cli(prog_name="cdp")

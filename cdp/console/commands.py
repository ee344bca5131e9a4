"""`cdp users ...`: console accounts (CONTRACT §2)."""

from __future__ import annotations

import sys

import click

from cdp.audit.log import AuditEntry, record


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        # One line: a trailing newline from `echo` or a here-string is not part of it.
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _os_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in a container: still an audit entry
        return "cli"


@click.group()
def users() -> None:
    """Console accounts (staff sign-in at /console/)."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_create(name: str, role: str, password_stdin: bool) -> None:
    """Create a console account NAME with ROLE."""
    from cdp.commandline import get_platform, known_roles
    from cdp.console.accounts import create_user

    platform = get_platform()
    roles = known_roles(platform.policies)
    if role not in roles:
        raise click.BadParameter(
            f"unknown role; one of: {', '.join(sorted(roles))}", param_hint="--role"
        )
    password = _read_password(password_stdin)
    with platform.transaction() as session:
        user = create_user(session, name, role, password)
        record(session, AuditEntry(actor=_os_actor(), action="console.user_create",
                                   detail={"user": user.name, "role": role}))
    click.echo(f"created console user {name} ({role})")


def _set_disabled(name: str, disabled: bool) -> None:
    from cdp.commandline import get_platform
    from cdp.console.accounts import set_disabled

    with get_platform().transaction() as session:
        set_disabled(session, name, disabled)
        record(session, AuditEntry(actor=_os_actor(),
                                   action="console.user_disable" if disabled else "console.user_enable",
                                   detail={"user": name}))
    click.echo(f"{'disabled' if disabled else 'enabled'} {name}")


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable NAME: sign-in refused and every session ended at once."""
    _set_disabled(name, True)


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Enable NAME again."""
    _set_disabled(name, False)


@users.command("reset")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the new password from standard input")
def users_reset(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME, end its sessions and require second-factor enrolment again."""
    from cdp.commandline import get_platform
    from cdp.console.accounts import reset_user

    password = _read_password(password_stdin)
    with get_platform().transaction() as session:
        reset_user(session, name, password)
        record(session, AuditEntry(actor=_os_actor(), action="console.user_reset",
                                   detail={"user": name}))
    click.echo(f"reset {name}: new password set, sessions ended, second factor to enrol again")


@users.command("list")
def users_list() -> None:
    """One line per account: name, role, state, second factor, last sign-in."""
    from cdp.commandline import get_platform
    from cdp.console.accounts import list_users

    with get_platform().transaction() as session:
        for u in list_users(session):
            state = "disabled" if u.disabled_at else "active"
            mfa = "totp" if u.totp_confirmed else "-"
            last = u.last_sign_in_at.isoformat(timespec="seconds") if u.last_sign_in_at else "never"
            login = "oidc" if u.password_hash is None else "password"
            click.echo(f"{u.name}\t{u.role}\t{state}\t{login}\tmfa={mfa}\tlast_sign_in={last}")

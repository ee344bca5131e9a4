"""API keys: shown once, stored as a hash, revocable, last use recorded."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cdp.access.apikeys import authenticate, create_key, revoke_key
from cdp.access.models import ApiKey
from cdp.cli import cli
from cdp.errors import Unauthorized


def test_only_hash_is_stored_and_key_authenticates(platform) -> None:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        row, key = create_key(s, "pharmacist")
    secret = key.split("_", 2)[2]
    with platform.transaction() as s:
        stored = s.scalar(select(ApiKey))
        assert secret not in (stored.key_hash, stored.prefix, stored.name)
        assert authenticate(s, key).role == "pharmacist"
        assert s.scalar(select(ApiKey)).last_used_at is not None


@pytest.mark.parametrize("presented", ["", "garbage", "cdp_nope_nope", "cdp__"])
def test_unknown_or_malformed_key_refused(platform, presented: str) -> None:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        create_key(s, "pharmacist")
        with pytest.raises(Unauthorized):
            authenticate(s, presented)


def test_wrong_secret_with_right_prefix_refused(platform) -> None:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        _, key = create_key(s, "pharmacist")
    forged = key[: key.rindex("_") + 1] + "A" * 43
    with platform.transaction() as s, pytest.raises(Unauthorized):
        authenticate(s, forged)


def test_revoked_key_refused(platform) -> None:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        row, key = create_key(s, "analyst")
        revoke_key(s, row.prefix)
    with platform.transaction() as s, pytest.raises(Unauthorized, match="revoked"):
        authenticate(s, key)


def test_cli_creates_key_and_rejects_unknown_role(cli_env) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    ok = runner.invoke(cli, ["keys", "create", "--role", "pharmacist"], env=cli_env)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("cdp_")
    bad = runner.invoke(cli, ["keys", "create", "--role", "superuser"], env=cli_env)
    assert bad.exit_code == 2 and "unknown role" in bad.output

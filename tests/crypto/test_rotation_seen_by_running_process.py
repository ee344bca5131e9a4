"""A process that was running when another one rotated the key-encryption key must wrap new
data keys under the new key at once, never under the one that was just retired."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cdp.crypto.keyring import Keyring
from cdp.crypto.models import DataKey
from cdp.errors import KeyringError
from cdp.identity.models import Customer
from cdp.platform import Platform

CDP = str(Path(sys.executable).parent / "cdp")


def test_new_data_keys_follow_a_rotation_done_by_another_process(cli_env, platform: Platform) -> None:  # type: ignore[no-untyped-def]
    with platform.transaction() as session:
        session.add_all([Customer(id="c-before"), Customer(id="c-after"), Customer(id="c-x")])
        session.flush()
        before, _ = platform.keys.create(session, "c-before")
    assert before.kek_version == 1

    done = subprocess.run([CDP, "keys", "rotate"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

    with platform.transaction() as session:
        after, dek = platform.keys.create(session, "c-after")
    assert after.kek_version == 2
    # What this process wrapped opens with the key in the file, from a fresh process's view.
    fresh = Keyring.load(platform.config.keyring_path)
    from cdp.crypto.keys import KeyService

    with platform.transaction() as session:
        row = session.scalars(select(DataKey).where(DataKey.customer_id == "c-after")).one()
        assert KeyService(fresh).unwrap(row) == dek
        # The rotation rewrapped the earlier key too.
        earlier = session.scalars(select(DataKey).where(DataKey.customer_id == "c-before")).one()
        assert earlier.kek_version == 2


def test_a_keyring_file_swapped_for_another_keyring_is_refused(platform: Platform, tmp_path: Path) -> None:
    with platform.transaction() as session:
        session.add(Customer(id="c-x"))
    platform.keyring.wrapping_version()  # loaded
    other = Keyring.generate()
    other.keks = {1: other.keks[1], 2: b"\x00" * 32}
    other.current_kek = 2
    other.save(platform.config.keyring_path)  # an attacker (or a mistake) replaces the file
    with pytest.raises(KeyringError, match="different keyring"), platform.transaction() as session:
        platform.keys.create(session, "c-x")

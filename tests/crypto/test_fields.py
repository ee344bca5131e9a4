"""Field encryption from the attacker's side: moved, altered or orphaned ciphertexts fail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cdp.crypto import fields
from cdp.crypto.blind_index import blind_index
from cdp.crypto.keyring import Keyring
from cdp.crypto.models import DataKey
from cdp.errors import DecryptionError
from cdp.identity.models import Customer


def test_roundtrip_binds_place() -> None:
    key = Keyring.generate().kek(1)
    aad = fields.field_aad("identifiers", "value_ct", "row1")
    blob = fields.encrypt(key, b"13812345678", aad)
    assert fields.decrypt(key, blob, aad) == b"13812345678"
    assert b"13812345678" not in blob


@pytest.mark.parametrize(
    "other",
    [
        ("identifiers", "value_ct", "row2"),  # copied to another row
        ("source_records", "profile_ct", "row1"),  # copied to another table/column
        ("identifiers", "other_ct", "row1"),  # copied to another column
    ],
)
def test_ciphertext_moved_elsewhere_fails(other: tuple[str, str, str]) -> None:
    key = Keyring.generate().kek(1)
    blob = fields.encrypt(key, b"secret", fields.field_aad("identifiers", "value_ct", "row1"))
    with pytest.raises(DecryptionError):
        fields.decrypt(key, blob, fields.field_aad(*other))


def test_flipped_bit_and_truncation_fail() -> None:
    key = Keyring.generate().kek(1)
    aad = fields.field_aad("t", "c", "r")
    blob = bytearray(fields.encrypt(key, b"secret", aad))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        fields.decrypt(key, bytes(blob), aad)
    with pytest.raises(DecryptionError):
        fields.decrypt(key, bytes(blob[:10]), aad)


def test_blind_index_is_keyed_and_per_kind() -> None:
    a, b = Keyring.generate(), Keyring.generate()
    assert blind_index(a, "phone", "+8613812345678") == blind_index(a, "phone", "+8613812345678")
    assert blind_index(a, "phone", "+8613812345678") != blind_index(b, "phone", "+8613812345678")
    assert blind_index(a, "phone", "x") != blind_index(a, "email", "x")


def _customer_with_key(platform, session):  # type: ignore[no-untyped-def]
    c = Customer()
    session.add(c)
    session.flush()
    row, dek = platform.keys.create(session, c.id)
    session.flush()
    return c, row, dek


def test_shredded_key_makes_fields_unreadable_and_spares_others(platform) -> None:  # type: ignore[no-untyped-def]
    aad = fields.field_aad("identifiers", "value_ct", "x")
    with platform.transaction() as s:
        alice, alice_key, alice_dek = _customer_with_key(platform, s)
        bob, bob_key, bob_dek = _customer_with_key(platform, s)
        alice_blob = fields.encrypt(alice_dek, b"alice", aad)
        bob_blob = fields.encrypt(bob_dek, b"bob", aad)
        alice_key_id, bob_key_id = alice_key.id, bob_key.id
        alice_id = alice.id
    with platform.transaction() as s:
        assert platform.keys.shred(s, alice_id) == 1
    # A fresh process (empty cache) and this one both fail to open Alice's data.
    from cdp.crypto.keys import KeyService

    for service in (platform.keys, KeyService(platform.keyring)):
        with platform.transaction() as s:
            with pytest.raises(DecryptionError):
                fields.decrypt(service.dek(s, alice_key_id), alice_blob, aad)
            assert fields.decrypt(service.dek(s, bob_key_id), bob_blob, aad) == b"bob"
    with platform.transaction() as s:
        row = s.get(DataKey, alice_key_id)
        assert row.wrapped is None and row.destroyed_at is not None


def test_wrapped_key_swapped_between_rows_fails(platform) -> None:  # type: ignore[no-untyped-def]
    from cdp.crypto.keys import KeyService

    with platform.transaction() as s:
        _, k1, _ = _customer_with_key(platform, s)
        _, k2, _ = _customer_with_key(platform, s)
        k1.wrapped, k2.wrapped = k2.wrapped, k1.wrapped
        ids = (k1.id, k2.id)
    fresh = KeyService(platform.keyring)
    with platform.transaction() as s:
        for key_id in ids:
            with pytest.raises(DecryptionError):
                fresh.dek(s, key_id)


def test_rotation_rewraps_without_touching_data(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from cdp.cli import cli
    from cdp.crypto.keys import KeyService

    aad = fields.field_aad("t", "c", "r")
    blobs = {}
    with platform.transaction() as s:
        for _ in range(25):
            _, key, dek = _customer_with_key(platform, s)
            blobs[key.id] = fields.encrypt(dek, key.id.encode(), aad)
    result = CliRunner().invoke(cli, ["keys", "rotate", "--batch-size", "7"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "v2 is current; rewrapped 25" in result.output
    ring = Keyring.load(cli_env["CDP_KEYRING"])
    assert ring.current_kek == 2
    fresh = KeyService(ring)
    with platform.transaction() as s:
        versions = set(s.scalars(select(DataKey.kek_version)))
        assert versions == {2}
        for key_id, blob in blobs.items():
            assert fields.decrypt(fresh.dek(s, key_id), blob, aad) == key_id.encode()
    # The long-running process that loaded the old keyring still reads rewrapped keys.
    stale = KeyService(platform.keyring)
    with platform.transaction() as s:
        for key_id, blob in blobs.items():
            assert fields.decrypt(stale.dek(s, key_id), blob, aad) == key_id.encode()


def test_field_cipher_is_the_same_format_as_the_functions() -> None:
    """``FieldCipher`` (one key set up for many values) writes what ``decrypt`` reads and
    reads what ``encrypt`` writes; a fresh nonce per value; the place still binds."""
    key = Keyring.generate().kek(1)
    aad = fields.field_aad("identifiers", "value_ct", "row1")
    cipher = fields.FieldCipher(key)
    a, b = cipher.encrypt(b"13812345678", aad), cipher.encrypt(b"13812345678", aad)
    assert a != b  # fresh nonce each time
    assert fields.decrypt(key, a, aad) == b"13812345678"
    assert cipher.decrypt(fields.encrypt(key, b"x", aad), aad) == b"x"
    with pytest.raises(DecryptionError):
        cipher.decrypt(a, fields.field_aad("identifiers", "value_ct", "row2"))
    with pytest.raises(DecryptionError):
        cipher.decrypt(a[:-1] + bytes([a[-1] ^ 1]), aad)
    with pytest.raises(DecryptionError):
        cipher.decrypt(b"\x01short", aad)

"""`cdp audit verify` catches every kind of tampering, including by someone who bypassed the triggers."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select, text

from cdp.audit.checkpoints import public_key_hex
from cdp.audit.models import AuditEvent
from cdp.cli import cli
from tests.audit.helpers import run_verify, tamper, triggers_dropped, write_entries


def _ids(platform, chain: int | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        q = select(AuditEvent.id).order_by(AuditEvent.chain, AuditEvent.seq)
        if chain is not None:
            q = q.where(AuditEvent.chain == chain)
        return list(s.scalars(q))


def _checkpoint(cli_env) -> dict:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(cli, ["audit", "checkpoint"], env=cli_env)
    assert res.exit_code == 0, res.output
    return json.loads(res.output.splitlines()[0])


def test_intact_log_exits_zero_with_one_line(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    write_entries(platform, 12, per_tx=3)
    _checkpoint(cli_env)
    write_entries(platform, 2)
    code, out = run_verify(cli_env)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audit log intact: 14 entries")
    assert "1 signed checkpoints" in lines[0]


def test_altered_row_with_triggers_bypassed_is_named(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    write_entries(platform, 6)
    victim = _ids(platform)[3]
    # The owner drops the triggers, hides who read the record, and restores the triggers.
    tamper(
        platform, "UPDATE audit_events SET actor = 'apikey:someone-else' WHERE id = :i", i=victim
    )
    code, out = run_verify(cli_env)
    assert code == 1
    assert f"entry id={victim}" in out and "altered" in out


def test_rewritten_chain_caught_by_signed_checkpoint(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    """An attacker who recomputes every hash after the edit still cannot re-sign the checkpoint."""
    from cdp.audit.log import entry_digest

    write_entries(platform, 5)
    _checkpoint(cli_env)
    with platform.transaction() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq)))
    first_chain = rows[0].chain
    rows = [r for r in rows if r.chain == first_chain]
    rows[0].actor = "apikey:innocent"
    prev = rows[0].prev_hash
    fixed = []
    for r in rows:
        r.prev_hash = prev
        r.entry_hash = entry_digest(prev, r)
        prev = r.entry_hash
        fixed.append((r.id, r.actor, r.prev_hash, r.entry_hash))
    with triggers_dropped(platform), platform.engine.begin() as c:
        for i, actor, ph, eh in fixed:
            c.execute(
                text("UPDATE audit_events SET actor=:a, prev_hash=:p, entry_hash=:e WHERE id=:i"),
                {"a": actor, "p": ph, "e": eh, "i": i},
            )
    code, out = run_verify(cli_env)
    assert code == 1
    assert "checkpoint" in out and "rewritten" in out


def test_deleted_entry_is_caught(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    write_entries(platform, 6, per_tx=6)  # one transaction: one chain
    ids = _ids(platform)
    tamper(platform, "DELETE FROM audit_events WHERE id = :i", i=ids[2])
    code, out = run_verify(cli_env)
    assert code == 1
    assert f"entry id={ids[3]}" in out and "deleted" in out


def test_reordered_entries_are_caught(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    write_entries(platform, 6, per_tx=6)  # one chain, seq 1..6
    ids = _ids(platform)
    a, b = ids[1], ids[4]  # seq 2 and seq 5: swap their positions
    tamper(platform, "UPDATE audit_events SET seq = -1 WHERE id = :a", a=a)
    tamper(platform, "UPDATE audit_events SET seq = 2 WHERE id = :b", b=b)
    tamper(platform, "UPDATE audit_events SET seq = 5 WHERE id = :a", a=a)
    code, out = run_verify(cli_env)
    assert code == 1
    assert f"entry id={b}" in out and "reordered" in out


def test_truncated_tail_after_checkpoint_is_caught(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    write_entries(platform, 6, per_tx=6)
    _checkpoint(cli_env)
    ids = _ids(platform)
    tamper(platform, "DELETE FROM audit_events WHERE id >= :i", i=ids[4])
    code, out = run_verify(cli_env)
    assert code == 1
    assert "removed from the tail" in out and "seq 6" in out


def test_external_checkpoint_and_public_key_alone(platform, cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A verifier holding only the public key and an old checkpoint proves the prefix unchanged,
    even after the stored checkpoints and the whole tail were removed."""
    write_entries(platform, 4, per_tx=4)
    cp = _checkpoint(cli_env)
    cp_file = tmp_path / "cp.json"
    cp_file.write_text(json.dumps(cp))
    pub = public_key_hex(platform.keyring.verify_key)
    code, out = run_verify(cli_env, "--public-key", pub, "--checkpoint", str(cp_file))
    assert code == 0, out
    assert "2 signed checkpoints" in out
    # Remove the stored checkpoint and the last two entries: only the external copy knows.
    tamper(platform, "DELETE FROM audit_events WHERE seq >= 3")
    with platform.engine.begin() as c:
        c.execute(
            text(
                "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete"
                if platform.engine.dialect.name == "sqlite"
                else "DROP TRIGGER IF EXISTS audit_checkpoints_no_update_delete ON audit_checkpoints"
            )
        )
        c.execute(text("DELETE FROM audit_checkpoints"))
    code, out = run_verify(cli_env, "--public-key", pub, "--checkpoint", str(cp_file))
    assert code == 1 and "checkpoint file cp.json" in out and "tail" in out
    # A forged checkpoint (signed with another key) does not verify.
    forged = dict(cp, statement=cp["statement"].replace('"entry_count":4', '"entry_count":2'))
    cp_file.write_text(json.dumps(forged))
    code, out = run_verify(cli_env, "--public-key", pub, "--checkpoint", str(cp_file))
    assert code == 1 and "signature does not verify" in out


def test_parallel_verification_finds_the_same_entry(platform) -> None:  # type: ignore[no-untyped-def]
    """The multi-process path (used above 200,000 entries on PostgreSQL) reports the same."""
    import pytest

    from cdp.audit.verify import verify_log

    if platform.engine.dialect.name != "postgresql":
        pytest.skip("parallel verification is for PostgreSQL")
    write_entries(platform, 8, per_tx=1)
    with platform.transaction() as s:
        assert verify_log(s, platform.keyring.verify_key, workers=2, parallel_above=0).ok
    victim = _ids(platform)[-1]
    tamper(
        platform,
        "UPDATE audit_events SET decision = 'allow', purpose = 'marketing' WHERE id = :i",
        i=victim,
    )
    with platform.transaction() as s:
        res = verify_log(s, platform.keyring.verify_key, workers=2, parallel_above=0)
    assert not res.ok and res.first_bad is not None and res.first_bad.entry_id == victim

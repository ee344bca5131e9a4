"""Key rotation while a real `cdp ingest` process is writing loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from cdp.crypto.keyring import Keyring
from cdp.crypto.models import DataKey
from cdp.identity.models import Customer, SourceRecord
from cdp.identity.view import assemble_customers
from cdp.platform import Platform
from tests.logcheck import register_sensitive

CDP = str(Path(sys.executable).parent / "cdp")


def _rotate(env: dict[str, str]) -> None:
    done = subprocess.run([CDP, "keys", "rotate", "--batch-size", "5"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_rotation_during_ingest_loses_nothing(cli_env, config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from scripts.generate_records import generate

    path = tmp_path / "recs.jsonl"
    generate(60, 13, path)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    phones = {i["value"] for r in records for i in r.get("identifiers", []) if i["type"] == "phone"}
    register_sensitive(sorted(phones))
    expected = {(r["source"], r["source_record_id"]) for r in records}

    ingest = subprocess.Popen([CDP, "ingest", "--batch-size", "10", str(path)], env=cli_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rotations = 0
    while ingest.poll() is None or rotations == 0:
        _rotate(cli_env)  # each adds a key-encryption key and rewraps what is committed so far
        rotations += 1
    _, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, err[-2000:]
    _rotate(cli_env)  # one more after ingest: every key ends under the newest KEK

    ring = Keyring.load(config.keyring_path)
    assert ring.current_kek == rotations + 2
    # A fresh process view: nothing cached from the ingest or the rotations.
    fresh = Platform(config)
    try:
        with fresh.transaction() as s:
            assert set(s.scalars(select(DataKey.kek_version))) == {ring.current_kek}
            stored = set(s.execute(select(SourceRecord.source, SourceRecord.source_record_id)))
            assert stored == expected  # every record in, none twice
            ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
            views = assemble_customers(s, fresh, ids)
        seen = {(i["source"], i["source_record_id"]) for v in views.values() for i in v["identities"]}
        assert seen == expected  # every record still decrypts into its customer's view
        decrypted = {i["value"] for v in views.values() for rec in v["identities"]
                     for i in rec["identifiers"] if i["type"] == "phone"}
        assert decrypted and all(v.startswith("+") or v.isdigit() or "*" in v for v in decrypted)
    finally:
        fresh.dispose()

"""Test data for exports, rights and jobs: generated records ingested through the real ingest."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from cdp.identity.pipeline import ingest_records
from cdp.identity.records import validate_record
from cdp.platform import Platform
from tests.logcheck import register_sensitive  # noqa: F401  (re-exported for tests)

REPO = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=8)
def _generated(people: int, seed: int) -> tuple[str, ...]:
    # A private directory per call: the two backends' runs must not share a half-written file.
    with tempfile.TemporaryDirectory(prefix="cdp-e-tests-") as tmp:
        out = Path(tmp) / "records.jsonl"
        subprocess.run([sys.executable, "-m", "scripts.generate_records", "--people", str(people),
                        "--seed", str(seed), "--out", str(out)], cwd=REPO, check=True,
                       capture_output=True)
        text = out.read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line.strip())


def generated_records(people: int = 60, seed: int = 5) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _generated(people, seed)]


def ingest(platform: Platform, records: list[dict[str, Any]]) -> None:
    ingest_records(platform, ((i, validate_record(r)) for i, r in enumerate(records)), actor="test")


def direct_values(records: list[dict[str, Any]]) -> set[str]:
    """Every direct identifier and name/address value in ``records`` (what must never leak)."""
    out: set[str] = set()
    for r in records:
        for i in r.get("identifiers", []):
            v = str(i.get("value", "")).strip()
            if len(v) >= 4:
                out.add(v)
        prof = r.get("profile") or {}
        for k in ("name", "address"):
            v = prof.get(k)
            if isinstance(v, str) and len(v.strip()) >= 2:
                out.add(v.strip())
    return out

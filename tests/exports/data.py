"""Test data for exports, rights and jobs: generated records ingested through the real ingest."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from cdp.identity.ingest import ingest_records, validate_record
from cdp.platform import Platform

REPO = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=8)
def _generated(people: int, seed: int) -> tuple[str, ...]:
    out = Path(f"/tmp/cdp-e-tests-{people}-{seed}.jsonl")
    if not out.exists():
        subprocess.run([sys.executable, "-m", "scripts.generate_records", "--people", str(people),
                        "--seed", str(seed), "--out", str(out)], cwd=REPO, check=True,
                       capture_output=True)
    return tuple(line for line in out.read_text(encoding="utf-8").splitlines() if line.strip())


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


def register_sensitive(values: set[str] | list[str]) -> None:
    """Register with the conftest instance pytest runs (it is imported as ``conftest``, and
    ``tests.conftest`` would be a second copy whose set is never checked)."""
    import sys

    seen = set()
    for name in ("conftest", "tests.conftest"):
        mod = sys.modules.get(name)
        if mod is not None and id(mod) not in seen and hasattr(mod, "register_sensitive"):
            seen.add(id(mod))
            mod.register_sensitive(list(values))

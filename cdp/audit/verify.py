"""Verify the audit log: every chain's links and hashes, and every signed checkpoint.

Catches an altered entry (hash mismatch), a deleted or reordered entry (sequence gap or a
``prev_hash`` that does not match), a tail cut after a checkpoint (the chain ends before
the checkpoint's head), a rewritten chain (the checkpoint's head hash differs) and a forged
checkpoint (bad Ed25519 signature). Entries written after the newest checkpoint are
protected by the chain alone: cutting that unsigned tail is only detectable by the next
checkpoint, so checkpoints are made on a schedule.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.checkpoints import SignedCheckpoint, stored_checkpoints
from cdp.audit.log import GENESIS, canonical
from cdp.audit.models import AuditEvent

import hashlib

_COLUMNS = [
    AuditEvent.id, AuditEvent.chain, AuditEvent.seq, AuditEvent.at, AuditEvent.actor,
    AuditEvent.role, AuditEvent.purpose, AuditEvent.action, AuditEvent.customer_id,
    AuditEvent.categories, AuditEvent.view, AuditEvent.decision, AuditEvent.reason,
    AuditEvent.request_id, AuditEvent.detail, AuditEvent.prev_hash, AuditEvent.entry_hash,
]


@dataclass
class Problem:
    entry_id: int | None
    chain: int | None
    seq: int | None
    message: str

    def describe(self) -> str:
        where = f"entry id={self.entry_id} (chain {self.chain}, seq {self.seq})" if self.entry_id else (
            f"chain {self.chain} at seq {self.seq}" if self.chain is not None else "audit log")
        return f"{where}: {self.message}"


@dataclass
class VerifyResult:
    entries: int = 0
    chains: int = 0
    checkpoints: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        if not self.problems:
            return None
        with_id = [p for p in self.problems if p.entry_id is not None]
        return min(with_id, key=lambda p: p.entry_id) if with_id else self.problems[0]  # type: ignore[arg-type,return-value]

    def summary(self) -> str:
        if self.ok:
            return (f"audit log intact: {self.entries} entries in {self.chains} chains, "
                    f"{self.checkpoints} signed checkpoints verified ({self.seconds:.2f} s)")
        assert self.first_bad is not None
        return f"audit log TAMPERED: first bad {self.first_bad.describe()} ({len(self.problems)} problems)"

    def as_dict(self) -> dict[str, Any]:
        bad = self.first_bad
        return {
            "ok": self.ok,
            "entries": self.entries,
            "chains": self.chains,
            "checkpoints": self.checkpoints,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
            "first_bad": None if bad is None else {
                "entry_id": bad.entry_id, "chain": bad.chain, "seq": bad.seq, "message": bad.message},
        }


def verify_log(
    session: Session,
    public_key: Ed25519PublicKey,
    extra_checkpoints: Iterable[SignedCheckpoint] = (),
    *,
    batch: int = 20_000,
) -> VerifyResult:
    """Walk every chain and check every checkpoint. Never raises for tampering: reports it."""
    t0 = time.perf_counter()
    result = VerifyResult()
    checkpoints = stored_checkpoints(session) + list(extra_checkpoints)
    # (chain, seq) -> [(checkpoint label, expected hash)]
    expected: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for cp in checkpoints:
        if not cp.valid_under(public_key):
            result.problems.append(Problem(None, None, None, f"{cp.label}: signature does not verify"))
            continue
        result.checkpoints += 1
        for chain, (seq, h) in cp.heads().items():
            expected.setdefault((chain, seq), []).append((cp.label, h))

    last_seq: dict[int, int] = {}
    broken: set[int] = set()
    chain = -1
    prev = GENESIS
    want = 1
    sha256 = hashlib.sha256
    stmt = select(*_COLUMNS).order_by(AuditEvent.chain, AuditEvent.seq).execution_options(
        yield_per=batch, stream_results=True
    )
    for row in session.execute(stmt):
        result.entries += 1
        if row.chain != chain:
            chain, prev, want = row.chain, GENESIS, 1
        if chain in broken:
            continue
        problem = None
        if row.seq != want:
            problem = (f"expected seq {want}, found {row.seq}: "
                       f"{'an entry before it was deleted' if row.seq > want else 'entries were reordered'}")
        elif row.prev_hash != prev:
            problem = "prev_hash does not match the entry before it (an entry was removed or reordered)"
        elif sha256(f"{prev}|{canonical(row)}".encode()).hexdigest() != row.entry_hash:
            problem = "content does not match its hash (the entry was altered)"
        if problem:
            result.problems.append(Problem(row.id, chain, row.seq, problem))
            broken.add(chain)
            continue
        for label, h in expected.get((chain, row.seq), ()):
            if h != row.entry_hash:
                result.problems.append(Problem(row.id, chain, row.seq,
                                               f"differs from the head signed in {label} (chain rewritten)"))
                broken.add(chain)
        prev, want = row.entry_hash, want + 1
        last_seq[chain] = row.seq

    for (c, seq), labels in sorted(expected.items()):
        if c not in broken and last_seq.get(c, 0) < seq:
            result.problems.append(Problem(None, c, seq, (
                f"{labels[0][0]} signed entries up to seq {seq} but the chain ends at seq "
                f"{last_seq.get(c, 0)}: entries were removed from the tail")))
    result.chains = len(last_seq | {c: 0 for c in broken})
    result.seconds = time.perf_counter() - t0
    return result

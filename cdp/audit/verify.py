"""Verify the audit log: every chain's links and hashes, and every signed checkpoint.

Catches an altered entry (hash mismatch), a deleted or reordered entry (sequence gap or a
``prev_hash`` that does not match), a tail cut after a checkpoint (the chain ends before
the checkpoint's head), a rewritten chain (the checkpoint's head hash differs) and a forged
checkpoint (bad Ed25519 signature). Entries written after the newest checkpoint are
protected by the chain alone: cutting that unsigned tail is only detectable by the next
checkpoint, so checkpoints are made on a schedule.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from cdp.audit.checkpoints import SignedCheckpoint, stored_checkpoints
from cdp.audit.log import GENESIS, canonical_text, chain_digest
from cdp.audit.models import AuditEvent
from cdp.db import is_postgres

_COLUMNS = [
    AuditEvent.id,
    AuditEvent.chain,
    AuditEvent.seq,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.role,
    AuditEvent.purpose,
    AuditEvent.action,
    AuditEvent.customer_id,
    AuditEvent.decision,
    AuditEvent.reason,
    AuditEvent.request_id,
    cast(AuditEvent.categories, Text),
    cast(AuditEvent.view, Text),
    cast(AuditEvent.detail, Text),
    AuditEvent.prev_hash,
    AuditEvent.entry_hash,
]
_PG_QUERY = (
    "SELECT id, chain, seq, at, actor, role, purpose, action, customer_id, decision, reason, "
    "request_id, categories::text, view::text, detail::text, prev_hash, entry_hash "
    "FROM audit_events ORDER BY chain, seq"
)


def _rows(session: Session, batch: int) -> Iterator[tuple[Any, ...]]:
    """Every entry as a plain tuple (columns as in _COLUMNS), in (chain, seq) order."""
    if is_postgres(session):
        # A server-side cursor straight on the driver: no ORM or type-processing cost per row.
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute("SET LOCAL TIME ZONE 'UTC'")
            # One in-memory sort instead of an external merge; no JIT compile for one scan.
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL jit = off")
        with raw.cursor(name="cdp_audit_verify") as cur:
            cur.itersize = batch
            cur.execute(_PG_QUERY)
            yield from cur
        return
    stmt = select(*_COLUMNS).order_by(AuditEvent.chain, AuditEvent.seq)
    for row in session.execute(stmt.execution_options(yield_per=batch)):
        yield tuple(row)


@dataclass
class Problem:
    entry_id: int | None
    chain: int | None
    seq: int | None
    message: str

    def describe(self) -> str:
        where = (
            f"entry id={self.entry_id} (chain {self.chain}, seq {self.seq})"
            if self.entry_id
            else (
                f"chain {self.chain} at seq {self.seq}" if self.chain is not None else "audit log"
            )
        )
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
            return (
                f"audit log intact: {self.entries} entries in {self.chains} chains, "
                f"{self.checkpoints} signed checkpoints verified ({self.seconds:.2f} s)"
            )
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
            "first_bad": None
            if bad is None
            else {
                "entry_id": bad.entry_id,
                "chain": bad.chain,
                "seq": bad.seq,
                "message": bad.message,
            },
        }


@dataclass
class _Walk:
    entries: int = 0
    last_seq: dict[int, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)


def _walk(
    rows: Iterable[tuple[Any, ...]], expected: dict[tuple[int, int], list[tuple[str, str]]]
) -> _Walk:
    """Check links, sequence and hashes of rows in (chain, seq) order."""
    w = _Walk()
    chain, prev, want = -1, GENESIS, 1
    broken = w.broken
    for (
        rid,
        rchain,
        rseq,
        at,
        actor,
        role,
        purpose,
        action,
        customer_id,
        decision,
        reason,
        request_id,
        cats,
        view,
        detail,
        prev_hash,
        entry_hash,
    ) in rows:
        w.entries += 1
        if rchain != chain:
            chain, prev, want = rchain, GENESIS, 1
        if chain in broken:
            continue
        problem = None
        if rseq != want:
            problem = (
                f"expected seq {want}, found {rseq}: "
                f"{'an entry before it was deleted' if rseq > want else 'entries were reordered'}"
            )
        elif prev_hash != prev:
            problem = (
                "prev_hash does not match the entry before it (an entry was removed or reordered)"
            )
        elif (
            chain_digest(
                prev,
                canonical_text(
                    rchain,
                    rseq,
                    at,
                    actor,
                    role,
                    purpose,
                    action,
                    customer_id,
                    decision,
                    reason,
                    request_id,
                    cats,
                    view,
                    detail,
                ),
            )
            != entry_hash
        ):
            problem = "content does not match its hash (the entry was altered)"
        if problem:
            w.problems.append(Problem(rid, chain, rseq, problem))
            broken.add(chain)
            continue
        for label, h in expected.get((chain, rseq), ()):
            if h != entry_hash:
                w.problems.append(
                    Problem(
                        rid,
                        chain,
                        rseq,
                        f"differs from the head signed in {label} (chain rewritten)",
                    )
                )
                broken.add(chain)
        prev, want = entry_hash, want + 1
        w.last_seq[chain] = rseq
    return w


def _walk_pg_chains(
    dsn: str, chains: list[int], expected: dict[tuple[int, int], list[tuple[str, str]]], batch: int
) -> _Walk:
    """Worker process: verify some chains over its own connection."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET jit = off")
        with conn.cursor(name="cdp_audit_verify_part") as cur:
            cur.itersize = batch
            cur.execute(_PG_QUERY.replace("ORDER BY", "WHERE chain = ANY(%s) ORDER BY"), (chains,))
            return _walk(cur, expected)


def verify_log(
    session: Session,
    public_key: Ed25519PublicKey,
    extra_checkpoints: Iterable[SignedCheckpoint] = (),
    *,
    batch: int = 20_000,
    workers: int = 1,
    parallel_above: int = 200_000,
) -> VerifyResult:
    """Walk every chain and check every checkpoint. Never raises for tampering: reports it.

    With ``workers`` > 1 on PostgreSQL and more than ``parallel_above`` entries, the chains
    are split over that many processes, each on its own connection (chains are independent,
    so it is the same check). Only the CLI asks for workers: a web worker never forks.
    """
    t0 = time.perf_counter()
    result = VerifyResult()
    checkpoints = stored_checkpoints(session) + list(extra_checkpoints)
    # (chain, seq) -> [(checkpoint label, expected hash)]
    expected: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for cp in checkpoints:
        if not cp.valid_under(public_key):
            result.problems.append(
                Problem(None, None, None, f"{cp.label}: signature does not verify")
            )
            continue
        result.checkpoints += 1
        for chain, (seq, h) in cp.heads().items():
            expected.setdefault((chain, seq), []).append((cp.label, h))

    walks: list[_Walk] = []
    n_workers = max(1, workers)
    parallel = False
    if is_postgres(session) and n_workers > 1:
        approx = session.scalar(select(func.max(AuditEvent.id))) or 0
        parallel = approx > parallel_above
    if parallel:
        chains = sorted(session.scalars(select(AuditEvent.chain).distinct()))
        groups = [chains[i::n_workers] for i in range(n_workers) if chains[i::n_workers]]
        url = session.get_bind().url.render_as_string(hide_password=False)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(groups), mp_context=ctx) as pool:
            walks = list(
                pool.map(
                    _walk_pg_chains,
                    [dsn] * len(groups),
                    groups,
                    [expected] * len(groups),
                    [batch] * len(groups),
                )
            )
    else:
        walks = [_walk(_rows(session, batch), expected)]

    last_seq: dict[int, int] = {}
    broken: set[int] = set()
    for w in walks:
        result.entries += w.entries
        result.problems += w.problems
        last_seq.update(w.last_seq)
        broken |= w.broken

    for (c, seq), labels in sorted(expected.items()):
        if c not in broken and last_seq.get(c, 0) < seq:
            result.problems.append(
                Problem(
                    None,
                    c,
                    seq,
                    (
                        f"{labels[0][0]} signed entries up to seq {seq} but the chain ends at seq "
                        f"{last_seq.get(c, 0)}: entries were removed from the tail"
                    ),
                )
            )
    result.chains = len(last_seq | {c: 0 for c in broken})
    result.seconds = time.perf_counter() - t0
    return result

"""Verify the audit log: every chain's links and hashes, and every signed checkpoint.

Catches an altered entry (hash mismatch), a deleted or reordered entry (sequence gap or a
``prev_hash`` that does not match), a tail cut after a checkpoint (the chain ends before
the checkpoint's head), a rewritten chain (the checkpoint's head hash differs) and a forged
checkpoint (bad Ed25519 signature). Entries written after the newest checkpoint are
protected by the chain alone: cutting that unsigned tail is only detectable by the next
checkpoint, so checkpoints are made on a schedule (cdp/audit/schedule.py).

On PostgreSQL the rows come from one COPY in text form, read in batches straight from
libpq's buffer (cdp/audit/copy_out.py) and hashed from their bytes (see _check_live_lines),
first in physical order without a sort; any doubt sends the walk through the exact
(chain, seq)-ordered pass, which names the first bad entry. Segment files keep the older
line layout of _PG_SELECT, checked by _check_copy_lines (cdp/audit/archive.py).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.pq import TransactionStatus
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from cdp.audit.checkpoints import SignedCheckpoint, stored_checkpoints
from cdp.audit.copy_out import copy_out_batches
from cdp.audit.log import GENESIS, canonical_text, chain_digest
from cdp.audit.models import AuditEvent
from cdp.audit.segments import check_segment_rows, stored_segments
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

# A checked row as the walk sees it: (id, chain, seq, prev_hash, entry_hash, content_ok),
# content_ok = the entry's hash matches its stored prev_hash and content. The hashes are
# bytes (hex) on every backend so the walk compares like with like; id, chain and seq are
# ints, or their ASCII digits straight from COPY (the walk converts them only when needed).
Checked = tuple[int | bytes, int | bytes, int | bytes, bytes, bytes, bool]
# Where each chain starts: (seq, hash) of its last archived entry (cdp/audit/archive.py).
# A chain not named starts at (0, GENESIS). Entries at or below the start are in a segment
# file and are skipped here.
Starts = dict[int, tuple[int, str]]
# Called now and then with the number of entries checked so far.
Progress = Callable[[int], None]
_TICK = 65_536


def _counted(rows: Iterable[Any], tick: Callable[[int], None] | None) -> Iterator[Any]:
    if tick is None:
        yield from rows
        return
    n = 0
    for row in rows:
        n += 1
        if n == _TICK:
            tick(n)
            n = 0
        yield row
    tick(n)

# PostgreSQL: COPY in text form, each head string already a JSON token when it needs no
# escaping ('"' || value || '"', NULL printed as null) and ``at`` as its Python isoformat()
# text, so the common row is hashed with a few byte joins and no Python objects per column.
# The COPY text escapes (backslash sequences) and anything needing JSON escaping take the
# slow path below, which decodes the fields and uses log.canonical_text itself.
# to_char's YYYY has no sign: a year BC would print as the same year AD. The era suffix
# (AD/BC) is printed and only "AD" removed, so a BC time never hashes like its AD twin.
_AT_ISO = (
    "'\"' || replace(replace(to_char(at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"AD'), '.000000+', '+'), '+00:00AD', '+00:00') "
    "|| '\"'"
)
_HEAD_STRINGS = (
    "actor",
    "role",
    "purpose",
    "action",
    "customer_id",
    "decision",
    "reason",
    "request_id",
)
_PG_SELECT = (
    "SELECT id, chain, seq, "  # noqa: S608 - built from the column names above, no input
    + _AT_ISO
    + ", "
    + ", ".join(f"'\"' || {c} || '\"'" for c in _HEAD_STRINGS)
    + ", categories::text, view::text, detail::text, prev_hash, entry_hash FROM {table}"
)
_PG_ORDER = " ORDER BY chain, seq"
_COPY_OPTIONS = " TO STDOUT (FORMAT text, NULL 'null')"
_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_COPY_ESCAPE_RE = re.compile(rb"\\(.)", re.DOTALL)


def _copy_unescape(field: bytes) -> bytes:
    return _COPY_ESCAPE_RE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), field)


def _slow_row(line: bytes) -> Checked:
    """One COPY line the fast path would not vouch for: decode it fully and hash it the way
    the writer did. Malformed lines (NULL chains, wrong column count) count as altered."""
    return _slow_fields([_copy_unescape(f) for f in line.split(b"\t")])


def _slow_fields(fields: list[bytes], well_formed: bool = True) -> Checked:
    """The slow check of one row's unescaped fields in _PG_SELECT's order."""
    try:
        chain, seq = int(fields[1]), int(fields[2])
        int(fields[0])
    except (ValueError, IndexError):
        # chain or seq is not a number (their NOT NULL constraint was dropped): altered.
        return (fields[0] if fields[0].isdigit() else b"0", b"-1", b"0", b"", b"", False)
    # Returned as the digits COPY sent, like the fast path's rows (the walk compares them).
    rid_b, chain_b, seq_b = fields[0], fields[1], fields[2]
    if len(fields) != 17 or not well_formed:
        return (rid_b, chain_b, seq_b, b"", b"", False)
    prev, entry = fields[15], fields[16]
    try:
        head = [None if raw == b"null" else raw[1:-1].decode() for raw in fields[3:12]]
        cats, view, detail = (f.decode() for f in fields[12:15])
        at, actor, role, purpose, action, customer_id, decision, reason, request_id = head
        ok = at is not None and (
            chain_digest(
                prev.decode(),
                canonical_text(
                    chain, seq, at, actor, role, purpose, action, customer_id, decision, reason,
                    request_id, cats, view, detail,
                ),
            ).encode()
            == entry
        )
    except UnicodeDecodeError:  # bytes no writer produced (e.g. a SQL_ASCII database)
        ok = False
    return (rid_b, chain_b, seq_b, prev, entry, ok)


def _check_copy_lines(lines: Iterable[Any]) -> Iterator[Checked]:
    """Hash every COPY line (see _PG_SELECT): the per-row hot loop of a PostgreSQL check.

    The fast path hashes the line's own bytes. It only vouches for a row when the line has
    no backslash (no COPY or JSON escapes) and each quoted head token holds no quote: then
    the bytes hashed are exactly ``log.canonical_text`` of the row. Anything else, and any
    mismatch, is decided by the slow path.
    """
    sha = hashlib.sha256
    for data in lines:
        line = bytes(data)
        if b"\\" in line:
            yield _slow_row(line[:-1])
            continue
        f = line.split(b"\t")
        if len(f) != 17:
            yield _slow_row(line[:-1])
            continue
        head = b",".join(f[1:12])
        cats, view, detail, prev, entry = f[12], f[13], f[14], f[15], f[16][:-1]
        if (
            head.count(b'"') != 2 * (9 - f[3:12].count(b"null"))
            or sha(
                b"%s|[%s]|%d:%s|%d:%s|%d:%s"
                % (
                    prev,
                    head,
                    len(cats) if cats.isascii() else len(cats.decode()),
                    cats,
                    len(view) if view.isascii() else len(view.decode()),
                    view,
                    len(detail) if detail.isascii() else len(detail.decode()),
                    detail,
                )
            )
            .hexdigest()
            .encode()
            != entry
        ):
            # A raw control character needs JSON escaping the fast path did not do; or the
            # row was altered. The slow path tells which.
            yield _slow_row(line[:-1])
            continue
        yield (f[0], f[1], f[2], prev, entry, True)


# The live check's own COPY layout (never stored; segment files keep _PG_SELECT's): the
# same columns with chain and seq first, so the head is one join, and the id last, so the
# line's newline ends a field the hot loop never hashes.
_LIVE_SELECT = (
    "SELECT chain, seq, "  # noqa: S608 - built from the column names above, no input
    + _AT_ISO
    + ", "
    + ", ".join(f"'\"' || {c} || '\"'" for c in _HEAD_STRINGS)
    + ", categories::text, view::text, detail::text, prev_hash, entry_hash, id FROM {table}"
)


def _slow_live_row(line: bytes) -> Checked:
    """A _LIVE_SELECT line the fast path would not vouch for, checked by _slow_fields."""
    f = line.rstrip(b"\n").split(b"\t")
    return _slow_fields([_copy_unescape(x) for x in f[-1:] + f[:-1]])


def _check_live_lines(lines: list[bytes]) -> list[Checked]:
    """Hash a batch of _LIVE_SELECT lines: the per-row hot loop of a PostgreSQL check.

    As _check_copy_lines: the fast path hashes the line's own bytes and vouches for a row
    only when the line has no backslash (no COPY or JSON escapes) and each quoted head token
    holds no quote, so that the bytes hashed are exactly ``log.canonical_text`` of the row.
    Anything else, and any mismatch, is decided by the slow path.
    """
    sha = hashlib.sha256
    out: list[Checked] = []
    append = out.append
    for line in lines:
        if b"\\" in line:
            append(_slow_live_row(line))
            continue
        f = line.split(b"\t")
        if len(f) != 17:
            append(_slow_live_row(line))
            continue
        head = b",".join(f[:11])
        cats, view, detail, prev, entry = f[11:16]
        if line.isascii():  # the JSON lengths are in characters: bytes, when all is ASCII
            data = b"%s|[%s]|%d:%s|%d:%s|%d:%s" % (
                prev, head, len(cats), cats, len(view), view, len(detail), detail
            )
        else:
            try:
                data = b"%s|[%s]|%d:%s|%d:%s|%d:%s" % (
                    prev, head, len(cats.decode()), cats, len(view.decode()), view,
                    len(detail.decode()), detail,
                )
            except UnicodeDecodeError:  # not UTF-8 (a SQL_ASCII database): the slow path says
                append(_slow_live_row(line))
                continue
        if (
            head.count(b'"') != 2 * (9 - f[2:11].count(b"null"))
            or sha(data).hexdigest().encode() != entry
        ):
            append(_slow_live_row(line))
            continue
        append((f[16], f[0], f[1], prev, entry, True))
    return out


def _pg_setup(cur: Any) -> None:
    # One in-memory sort instead of an external merge; no JIT compile for one scan.
    cur.execute("SET LOCAL work_mem = '256MB'")
    cur.execute("SET LOCAL jit = off")
    # A scan of a big table may start where a concurrent one is (synchronised scans):
    # physical order from page 0 is what lets the first pass skip the sort.
    cur.execute("SET LOCAL synchronize_seqscans = off")


@contextmanager
def pinned_names(cur: Any) -> Iterator[str]:
    """The audit table's schema-qualified name, with the session's search path narrowed to
    pg_catalog while the block runs (restored after it).

    The COPY query formats every row with operators, functions and casts (``||``,
    ``to_char``, ``::text``). Resolved through the usual search path, a better-matching
    ``||`` or ``to_char`` created in ``public`` by someone who can write the database would
    make tampered rows print as the untampered ones; the check exists for exactly that
    person. Only pg_catalog's are used inside the block.
    """
    cur.execute(
        "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),"
        " pg_catalog.current_setting('search_path')"
        " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = pg_catalog.to_regclass('audit_events')"
    )
    table, previous = cur.fetchone()
    cur.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)")
    try:
        yield table
    finally:
        # After an error the transaction is aborted and its SET LOCAL goes with it.
        if cur.connection.info.transaction_status != TransactionStatus.INERROR:
            cur.execute("SELECT pg_catalog.set_config('search_path', %s, true)", (previous,))


def _ticked(
    batches: Iterable[list[bytes]], tick: Callable[[int], None] | None
) -> Iterator[list[bytes]]:
    for batch in batches:
        if tick is not None:
            tick(len(batch))
        yield batch


def _pg_check(
    conn: Any,
    expected: dict[tuple[int, int], list[tuple[str, str]]],
    part: tuple[int, int] | None = None,
    starts: Starts | None = None,
    tick: Callable[[int], None] | None = None,
) -> _Walk:
    """Check the chains (all, or those with chain % part[1] == part[0]) on one psycopg
    connection (inside its transaction).

    First in physical order (one sequential scan, no sort); if anything at all looks wrong
    there, again in (chain, seq) order, which names the first bad entry exactly.
    """
    with conn.cursor() as cur:
        _pg_setup(cur)
        with pinned_names(cur) as table:
            return _pg_check_pinned(conn, table, expected, part, starts, tick)


def _pg_check_pinned(
    conn: Any,
    table: str,
    expected: dict[tuple[int, int], list[tuple[str, str]]],
    part: tuple[int, int] | None,
    starts: Starts | None,
    tick: Callable[[int], None] | None,
) -> _Walk:
    where = f" WHERE chain % {int(part[1])} = {int(part[0])}" if part else ""
    live_select = _LIVE_SELECT.format(table=table)

    def checked(
        query: str, progress: Callable[[int], None] | None
    ) -> Generator[Checked, None, None]:
        copy = copy_out_batches(conn, "COPY (" + query + ")" + _COPY_OPTIONS)
        try:
            for batch in _ticked(copy, progress):
                yield from _check_live_lines(batch)
        finally:
            copy.close()  # an early stop still ends the COPY: the connection stays usable

    rows = checked(live_select + where, tick)
    walk = _walk_unordered(rows, expected, starts)
    rows.close()
    if walk is not None:
        return walk
    return _walk(checked(live_select + where + _PG_ORDER, None), expected, starts)


def _sqlite_rows(session: Session, batch: int) -> Iterator[Checked]:
    """Every entry, checked against its own hash, in (chain, seq) order."""
    stmt = select(*_COLUMNS).order_by(AuditEvent.chain, AuditEvent.seq)
    for row in session.execute(stmt.execution_options(yield_per=batch)):
        rid, chain, seq, at, *content, prev, entry = row
        ok = chain_digest(prev, canonical_text(chain, seq, at, *content)) == entry
        yield (rid, chain, seq, prev.encode(), entry.encode(), ok)


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
    archived: int = 0  # entries in archived segments (verified from their signed end)
    segments: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        if not self.problems:
            return None
        with_id = [(p.entry_id, p) for p in self.problems if p.entry_id is not None]
        return min(with_id, key=lambda pair: pair[0])[1] if with_id else self.problems[0]

    def summary(self) -> str:
        if self.ok:
            return (
                f"audit log intact: {self.entries} entries in {self.chains} chains, "
                f"{self.checkpoints} signed checkpoints verified"
                + (
                    f", continuing from {self.segments} archived segments "
                    f"({self.archived} entries)"
                    if self.segments
                    else ""
                )
                + f" ({self.seconds:.2f} s)"
            )
        first = self.first_bad
        if first is None:  # not ok means at least one problem
            raise RuntimeError("a failed verification must name a problem")
        line = f"audit log TAMPERED: first bad {first.describe()} ({len(self.problems)} problems)"
        # A checkpoint that fails its signature is named too, whatever else is wrong: it
        # means someone offers a forged statement about the log's past.
        forged = [p.message for p in self.problems if p.chain is None and p is not first]
        return line + "".join(f"; {m}" for m in forged)

    def as_dict(self) -> dict[str, Any]:
        bad = self.first_bad
        return {
            "ok": self.ok,
            "entries": self.entries,
            "chains": self.chains,
            "checkpoints": self.checkpoints,
            "archived_entries": self.archived,
            "archived_segments": self.segments,
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


def _start_of(starts: Starts | None, chain: int) -> tuple[int, bytes]:
    seq, h = (starts or {}).get(chain, (0, GENESIS))
    return seq, h.encode()


def _walk(
    rows: Iterable[Checked],
    expected: dict[tuple[int, int], list[tuple[str, str]]],
    starts: Starts | None = None,
) -> _Walk:
    """Check links and sequence of checked rows in (chain, seq) order."""
    w = _Walk()
    base = 0
    chain, prev, want = -1, GENESIS.encode(), 1
    broken = w.broken
    exp = {k: [(label, h.encode()) for label, h in v] for k, v in expected.items()}
    n = 0
    raw_chain: object = None
    for rid, rchain, rseq, prev_hash, entry_hash, content_ok in rows:
        n += 1
        if rchain != raw_chain:
            # The PostgreSQL rows carry ids, chains and seqs as the digits COPY sent.
            raw_chain, chain = rchain, int(rchain)
            base, prev = _start_of(starts, chain)
            want = base + 1
        if chain in broken:
            continue
        rseq = int(rseq)
        if rseq <= base:  # archived: the segment file holds and vouches for it
            n -= 1
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
        elif not content_ok:
            problem = "content does not match its hash (the entry was altered)"
        if problem:
            w.problems.append(Problem(int(rid), chain, rseq, problem))
            broken.add(chain)
            continue
        if exp:
            for label, h in exp.get((chain, rseq), ()):
                if h != entry_hash:
                    w.problems.append(
                        Problem(
                            int(rid),
                            chain,
                            rseq,
                            f"differs from the head signed in {label} (chain rewritten)",
                        )
                    )
                    broken.add(chain)
        prev, want = entry_hash, want + 1
        w.last_seq[chain] = rseq
    w.entries = n
    return w


# Rows held back by the physical-order walk while they wait for their predecessor (rows
# land out of order when inserts reuse space freed by vacuum); past this, sort instead.
_MAX_PENDING = 200_000


def _walk_unordered(
    rows: Iterable[Checked],
    expected: dict[tuple[int, int], list[tuple[str, str]]],
    starts: Starts | None = None,
) -> _Walk | None:
    """The same checks as _walk over rows in any order; None at the first sign of trouble
    (a bad hash or link, a gap, a checkpoint mismatch), so the caller walks again in order
    to name the first bad entry."""
    exp: dict[int, dict[int, list[bytes]]] = {}
    for (c, q), labels in expected.items():
        exp.setdefault(c, {})[q] = [h.encode() for _, h in labels]
    # chain (raw) -> [next seq wanted, hash of the entry before it, int chain]
    state: dict[Any, list[Any]] = {}
    pending: dict[Any, dict[int, tuple[bytes, bytes]]] = {}
    n_pending = 0
    n = 0
    for _rid, rchain, rseq, prev_hash, entry_hash, content_ok in rows:
        n += 1
        if not content_ok:
            return None
        st = state.get(rchain)
        if st is None:
            base, h = _start_of(starts, int(rchain))
            st = state[rchain] = [base + 1, h, int(rchain), base]
        seq = int(rseq)
        if seq <= st[3]:  # archived: the segment file holds and vouches for it
            n -= 1
            continue
        if seq != st[0]:
            if seq < st[0] or n_pending >= _MAX_PENDING:
                return None
            waiting = pending.setdefault(rchain, {})
            if seq in waiting:
                return None
            waiting[seq] = (prev_hash, entry_hash)
            n_pending += 1
            continue
        while True:
            if prev_hash != st[1]:
                return None
            if exp:
                heads = exp.get(st[2])
                if heads and seq in heads and any(h != entry_hash for h in heads[seq]):
                    return None
            st[0], st[1] = seq + 1, entry_hash
            queued = pending.get(rchain)
            if not queued or st[0] not in queued:
                break
            seq = st[0]
            prev_hash, entry_hash = queued.pop(seq)
            n_pending -= 1
    if n_pending:
        return None
    w = _Walk(entries=n)
    w.last_seq = {st[2]: st[0] - 1 for st in state.values()}
    return w


def default_workers() -> int:
    """Processes for a large PostgreSQL check: one per two CPUs. Each worker is a Python
    process hashing plus a PostgreSQL backend scanning, so one worker keeps two cores busy;
    on a 2-core host a second worker only makes four processes fight over two cores."""
    return max(1, (os.cpu_count() or 1) // 2)


_WORKER_COUNTER: Any = None


def _worker_init(counter: Any) -> None:
    global _WORKER_COUNTER
    _WORKER_COUNTER = counter


def _worker_tick(n: int) -> None:
    with _WORKER_COUNTER.get_lock():
        _WORKER_COUNTER.value += n


def _walk_pg_chains(
    dsn: str,
    part: tuple[int, int],
    expected: dict[tuple[int, int], list[tuple[str, str]]],
    batch: int,
    starts: Starts | None = None,
) -> _Walk:
    """Worker process: verify some chains over its own connection."""
    import psycopg

    tick = _worker_tick if _WORKER_COUNTER is not None else None
    with psycopg.connect(dsn) as conn:
        return _pg_check(conn, expected, part, starts, tick)


def verify_log(
    session: Session,
    public_key: Ed25519PublicKey,
    extra_checkpoints: Iterable[SignedCheckpoint] = (),
    *,
    batch: int = 20_000,
    workers: int | None = None,
    parallel_above: int = 200_000,
    progress: Progress | None = None,
) -> VerifyResult:
    """Walk every chain and check every checkpoint. Never raises for tampering: reports it.

    On PostgreSQL with more than ``parallel_above`` entries, the chains are split over
    ``workers`` processes (default: half the CPU count, see default_workers), each on its own
    connection (chains are independent, so it is the same check). The web endpoint passes
    ``workers=1``: a web worker never forks.

    Archived months (``cdp audit archive``): each chain starts from the newest stored
    segment's signed end; the segment statements' signatures and their succession are
    checked, the entries they cover are not (``cdp audit verify-segment`` checks the files).
    ``progress`` is called now and then with the number of entries checked so far.
    """
    t0 = time.perf_counter()
    result = VerifyResult()
    segments = stored_segments(session)
    starts, result.archived, segment_problems = check_segment_rows(segments, public_key)
    result.segments = len(segments)
    for message in segment_problems:
        result.problems.append(Problem(None, None, None, message))
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
            if seq > starts.get(chain, (0, ""))[0]:  # else archived, checked when archived
                expected.setdefault((chain, seq), []).append((cp.label, h))

    walks: list[_Walk] = []
    n_workers = max(1, workers if workers is not None else default_workers())
    parallel = False
    if is_postgres(session) and n_workers > 1:
        approx = session.scalar(select(func.max(AuditEvent.id))) or 0
        parallel = approx > parallel_above
    if parallel:
        # Worker i takes the chains with chain % n == i (no scan to list the chains first).
        groups = [(i, n_workers) for i in range(n_workers)]
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        # fork starts a worker in milliseconds (spawn re-imports the CLI, seconds); the
        # workers open their own connections and never touch the parent's pool.
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        counter = ctx.Value("q", 0) if progress is not None else None
        with ProcessPoolExecutor(
            max_workers=len(groups), mp_context=ctx, initializer=_worker_init,
            initargs=(counter,),
        ) as pool:
            futures = [
                pool.submit(_walk_pg_chains, dsn, g, expected, batch, starts) for g in groups
            ]
            while progress is not None and counter is not None:
                done, pending = wait(futures, timeout=0.5, return_when=FIRST_EXCEPTION)
                progress(counter.value)
                if not pending or any(f.exception() for f in done):
                    break
            walks = [f.result() for f in futures]
    elif is_postgres(session):
        # COPY straight on the driver: no ORM, no per-column Python objects.
        raw = session.connection().connection.driver_connection  # psycopg's own connection
        if raw is None:
            raise RuntimeError("the session's connection has no open driver connection")
        checked = [0]

        def tick(n: int) -> None:
            checked[0] += n
            if progress is not None:
                progress(checked[0])

        walks = [_pg_check(raw, expected, None, starts, tick if progress else None)]
    else:
        sq_checked = [0]

        def sq_tick(n: int) -> None:
            sq_checked[0] += n
            if progress is not None:
                progress(sq_checked[0])

        rows = _counted(_sqlite_rows(session, batch), sq_tick if progress else None)
        walks = [_walk(rows, expected, starts)]

    last_seq: dict[int, int] = {}
    broken: set[int] = set()
    for w in walks:
        result.entries += w.entries
        result.problems += w.problems
        last_seq.update(w.last_seq)
        broken |= w.broken

    for (c, seq), labels in sorted(expected.items()):
        if c not in broken and last_seq.get(c, starts.get(c, (0, ""))[0]) < seq:
            result.problems.append(
                Problem(
                    None,
                    c,
                    seq,
                    (
                        f"{labels[0][0]} signed entries up to seq {seq} but the chain ends at seq "
                        f"{last_seq.get(c, starts.get(c, (0, ''))[0])}: entries were removed "
                        "from the tail"
                    ),
                )
            )
    result.chains = len(last_seq | {c: 0 for c in broken} | dict.fromkeys(starts, 0))
    result.seconds = time.perf_counter() - t0
    return result

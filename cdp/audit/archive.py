"""Archive old months of the audit log as signed, self-verifying segment files (PostgreSQL).

A segment file (``audit-segment-YYYY-MM.jsonl.gz``) holds, one JSON array per line, every
entry of the archived stretch in (chain, seq) order, exactly as stored (the JSON columns as
the text their hash covers), and ends with one line ``{"statement", "signature"}``: an
Ed25519 signature over a canonical JSON statement naming each chain's first and last
archived (seq, hash), the entry count, the SHA-256 of the entry lines and the statement of
the segment before it. ``verify_segment_file`` needs nothing but the file (and, to trust it,
the public key): it checks the signature, the digest and every entry's hash and link.

The statement is also stored in ``audit_segments``; ``cdp audit verify`` then starts each
live chain from the newest segment's signed end instead of the genesis hash.

Which entries: the month partitions wholly before ``before`` are archived and detached. A
chain's entries follow each other in seq order, but ``at`` is taken by the writer before it
picks a chain, so at a month boundary an entry may carry a slightly earlier time than its
predecessor (a few milliseconds; more with clock skew between app nodes). The segment is
therefore cut per chain at the highest seq found in the archived partitions and takes every
entry of the chain up to there, a straggler still in a live partition included. The live
verifier skips entries at or below the signed end (they are in the segment), so the two
never disagree about who holds what.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Text, and_, cast, or_, select, text
from sqlalchemy.orm import Session

from cdp.audit.checkpoints import load_public_key, public_key_hex, stored_checkpoints
from cdp.audit.log import GENESIS, canonical_text, chain_digest
from cdp.audit.models import AuditEvent, AuditSegment
from cdp.db import is_postgres, utcnow
from cdp.errors import ValidationError

SEGMENT_TYPE = "cdp-audit-segment/1"
MONTHS_AHEAD = 3
# A month is archived only once it has been over for this long: a writer whose clock lags
# (or whose transaction is slow) may still add an entry stamped with the month's last moment.
SETTLE = timedelta(days=1)

# The columns of one segment line, in this order; the JSON columns as stored text.
_LINE_COLUMNS = [
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

Heads = dict[int, tuple[int, str]]


class ArchiveError(Exception):
    """The archive was refused; nothing was written to the database or detached."""


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None: MINVALUE (the legacy partition)
    upper: datetime


@dataclass
class ArchiveResult:
    path: Path
    partitions: list[str]
    entries: int
    dropped: bool


@dataclass
class SegmentCheck:
    path: Path
    ok: bool = True
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    statement: dict[str, Any] = field(default_factory=dict)
    statement_text: str = ""

    def summary(self) -> str:
        if self.ok:
            s = self.statement
            return (
                f"segment {self.path.name} intact: {self.entries} entries before {s['before']}, "
                f"signed by {s['public_key'][:16]}..."
            )
        return f"segment {self.path.name} BAD: {self.problems[0]}"


# -- partitions ------------------------------------------------------------------------------
def ensure_partitions(session: Session, months_ahead: int = MONTHS_AHEAD) -> int:
    """Make the month partitions from this month to ``months_ahead`` ahead (PostgreSQL; a
    no-op returning 0 on SQLite). Returns how many were made. Safe to call often."""
    if not is_postgres(session):
        return 0
    return int(session.scalar(text("SELECT cdp_audit_ensure_partitions(:n)"), {"n": months_ahead}))


_BOUND = re.compile(r"FROM \((MINVALUE|'[^']+')\) TO \('([^']+)'\)")


def _ts(literal: str) -> datetime:
    return datetime.fromisoformat(literal.strip("'")).astimezone(UTC)


def partitions(session: Session) -> list[Partition]:
    """The partitions of ``audit_events`` in time order (PostgreSQL; [] on SQLite)."""
    if not is_postgres(session):
        return []
    session.execute(text("SET LOCAL TimeZone = 'UTC'"))
    rows = session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass"
        )
    ).all()
    out = []
    for name, bound in rows:
        m = _BOUND.search(bound or "")
        if m is None:
            continue
        lower = None if m.group(1) == "MINVALUE" else _ts(m.group(1))
        out.append(Partition(name, lower, _ts(m.group(2))))
    return sorted(out, key=lambda p: p.upper)


def month_start(value: str) -> datetime:
    """``YYYY-MM`` as the first instant of that month in UTC; a clear error otherwise."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValidationError("--before must be a month as YYYY-MM")
    return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)


# -- segments in the database ----------------------------------------------------------------
def _heads_of(raw: dict[str, Any]) -> Heads:
    return {int(c): (int(v[0]), str(v[1])) for c, v in raw.items()}


def _heads_json(heads: Heads) -> dict[str, list[Any]]:
    return {str(c): [s, h] for c, (s, h) in sorted(heads.items())}


def _statement_digest(statement: str) -> str:
    return hashlib.sha256(statement.encode()).hexdigest()


def _signature_ok(key: Ed25519PublicKey, statement: str, signature: bytes) -> bool:
    try:
        key.verify(signature, statement.encode())
        return True
    except InvalidSignature:
        return False


def stored_segments(session: Session) -> list[AuditSegment]:
    return list(session.scalars(select(AuditSegment).order_by(AuditSegment.id)))


def check_segment_rows(rows: list[AuditSegment], key: Ed25519PublicKey) -> tuple[Heads, int, list[str]]:
    """Check the stored segment statements (signature, each continuing the one before).

    Returns the live log's starting heads (the newest segment's signed ends), the number of
    archived entries, and the problems found (empty when all hold)."""
    problems: list[str] = []
    ends: Heads = {}
    archived = 0
    previous: str | None = None
    for row in rows:
        label = f"segment {row.id} ({row.file_name})"
        if not _signature_ok(key, row.statement, row.signature):
            problems.append(f"{label}: signature does not verify")
            continue
        body = json.loads(row.statement)
        if body.get("previous") != previous or _heads_of(body["starts"]) != {
            c: ends.get(c, (0, GENESIS)) for c in _heads_of(body["starts"])
        }:
            problems.append(f"{label}: does not continue the segment before it")
        ends = _heads_of(body["ends"])
        archived += int(body["entry_count"])
        previous = _statement_digest(row.statement)
    return ends, archived, problems


# -- archiving -------------------------------------------------------------------------------
def _segment_rows(session: Session, ranges: dict[int, tuple[int, int]]) -> Iterator[Any]:
    conds = [
        and_(AuditEvent.chain == c, AuditEvent.seq > lo, AuditEvent.seq <= hi)
        for c, (lo, hi) in sorted(ranges.items())
        if hi > lo
    ]
    if not conds:
        return iter(())
    stmt = select(*_LINE_COLUMNS).where(or_(*conds)).order_by(AuditEvent.chain, AuditEvent.seq)
    return iter(session.execute(stmt.execution_options(yield_per=20_000)))


def _line(row: Any) -> list[Any]:
    rid, chain, seq, at, *rest = row
    return [rid, chain, seq, at.isoformat(), *rest]


def archive_before(
    session: Session,
    before: datetime,
    out_dir: Path,
    signing_key: Ed25519PrivateKey,
    *,
    drop: bool = False,
    now: datetime | None = None,
) -> ArchiveResult:
    """Write every partition wholly before ``before`` to a signed segment file in
    ``out_dir``, record its statement in ``audit_segments`` and detach the partitions (drop
    them with ``drop``). Flushes; the caller commits (the detach is part of the transaction,
    so a failure leaves the log as it was; the file may then remain, unreferenced).

    Refuses (ArchiveError) on SQLite, for a month not yet settled, when nothing is left to
    archive, and when an entry to be archived fails its hash or link: a broken chain is
    never archived away.
    """
    if not is_postgres(session):
        raise ArchiveError("archiving needs PostgreSQL (SQLite keeps one unpartitioned log)")
    now = now or utcnow()
    latest_allowed = (now - SETTLE).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if before > latest_allowed:
        raise ArchiveError(
            f"months before {before:%Y-%m} are not all over for {SETTLE.days} day(s) yet; "
            f"the latest allowed is --before {latest_allowed:%Y-%m}"
        )
    parts = [p for p in partitions(session) if p.upper <= before]
    if not parts:
        raise ArchiveError(f"no partition lies wholly before {before:%Y-%m}: nothing to archive")

    previous = session.scalars(
        select(AuditSegment).order_by(AuditSegment.id.desc()).limit(1)
    ).first()
    ends_before: Heads = _heads_of(previous.ends) if previous else {}
    union = " UNION ALL ".join(
        f'SELECT chain, max(seq) AS seq FROM "{p.name}" GROUP BY chain' for p in parts
    )
    highest = {
        int(c): int(s)
        for c, s in session.execute(text(f"SELECT chain, max(seq) FROM ({union}) t GROUP BY chain"))
    }
    chains = sorted(set(highest) | set(ends_before))
    starts: Heads = {c: ends_before.get(c, (0, GENESIS)) for c in chains}
    ranges = {c: (starts[c][0], max(starts[c][0], highest.get(c, 0))) for c in chains}

    # Checkpoint heads falling inside the segment must match it (as verify would check).
    expected: dict[tuple[int, int], list[str]] = {}
    for cp in stored_checkpoints(session):
        if cp.valid_under(signing_key.public_key()):
            for c, (seq, h) in cp.heads().items():
                expected.setdefault((c, seq), []).append(h)

    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"audit-segment-{before:%Y-%m}.jsonl.gz"
    final = out_dir / name
    partial = out_dir / (name + ".partial")
    body = hashlib.sha256()
    ends: Heads = dict(ends_before)
    count = 0
    state = {c: list(starts[c]) for c in chains}  # chain -> [last seq, last hash]
    with gzip.open(partial, "wb", compresslevel=6) as fh:
        for row in _segment_rows(session, ranges):
            rid, chain, seq, at, *content, prev, entry = row
            st = state[chain]
            if seq != st[0] + 1 or prev != st[1]:
                raise ArchiveError(
                    f"chain {chain} breaks at seq {seq} (entry id={rid}): run `cdp audit verify`"
                )
            if chain_digest(prev, canonical_text(chain, seq, at, *content)) != entry:
                raise ArchiveError(f"entry id={rid} does not match its hash: run `cdp audit verify`")
            if any(h != entry for h in expected.get((chain, seq), ())):
                raise ArchiveError(f"entry id={rid} differs from a signed checkpoint")
            st[0], st[1] = seq, entry
            line = json.dumps(_line(row), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            body.update(line)
            fh.write(line)
            count += 1
        for c in chains:
            if state[c][0] != ranges[c][1]:
                raise ArchiveError(f"chain {c} ends at seq {state[c][0]}, expected {ranges[c][1]}")
            ends[c] = (state[c][0], state[c][1])
        statement_body = {
            "type": SEGMENT_TYPE,
            "before": before.isoformat(),
            "partitions": [p.name for p in parts],
            "starts": _heads_json(starts),
            "ends": _heads_json(ends),
            "entry_count": count,
            "body_sha256": body.hexdigest(),
            "previous": _statement_digest(previous.statement) if previous else None,
            "public_key": public_key_hex(signing_key.public_key()),
            "made_at": now.isoformat(),
        }
        statement = json.dumps(statement_body, sort_keys=True, separators=(",", ":"))
        signature = signing_key.sign(statement.encode())
        fh.write(
            json.dumps(
                {"statement": statement, "signature": base64.b64encode(signature).decode()}
            ).encode()
            + b"\n"
        )
    with partial.open("rb") as raw:
        os.fsync(raw.fileno())
    os.replace(partial, final)
    check = verify_segment_file(final, signing_key.public_key())
    if not check.ok:  # the file just written must stand on its own before anything is detached
        raise ArchiveError(f"the written segment does not verify: {check.problems[0]}")

    session.add(
        AuditSegment(
            at=now, before=before, file_name=name, entry_count=count,
            ends=_heads_json(ends), statement=statement, signature=signature,
        )
    )
    session.flush()
    for p in parts:
        session.execute(text(f'ALTER TABLE audit_events DETACH PARTITION "{p.name}"'))
        if drop:
            session.execute(text(f'DROP TABLE "{p.name}"'))
    return ArchiveResult(final, [p.name for p in parts], count, drop)


# -- verifying a segment file on its own -----------------------------------------------------
def _read_lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        yield from fh


def verify_segment_file(path: Path, public_key: Ed25519PublicKey | None = None) -> SegmentCheck:
    """Check a segment file with nothing else: its signature (under ``public_key``, or the key
    it names when none is given), the digest of its entry lines, and every entry's hash and
    link from the signed starts to the signed ends. Never raises for a bad file: reports it."""
    check = SegmentCheck(path=path)

    def bad(message: str) -> SegmentCheck:
        check.ok = False
        check.problems.append(message)
        return check

    try:
        lines = _read_lines(path)
        digest = hashlib.sha256()
        pending: bytes | None = None
        state: dict[int, list[Any]] = {}
        n = 0
        first_problem: str | None = None
        for raw in lines:
            if pending is not None:
                # Hash and check the line before (the last line is the signature).
                digest.update(pending)
                n += 1
                if first_problem is None:
                    first_problem = _check_line(pending, state, n)
            pending = raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return bad(f"unreadable ({type(exc).__name__})")
    if pending is None:
        return bad("empty file")
    try:
        trailer = json.loads(pending)
        statement_text = trailer["statement"]
        signature = base64.b64decode(trailer["signature"])
        statement = json.loads(statement_text)
    except (ValueError, KeyError, TypeError):
        return bad("the last line is not a signed statement")
    check.statement, check.statement_text, check.entries = statement, statement_text, n
    if statement.get("type") != SEGMENT_TYPE:
        return bad("not a cdp audit segment")
    key = public_key or load_public_key(statement.get("public_key", ""))
    if not _signature_ok(key, statement_text, signature):
        return bad("signature does not verify")
    if digest.hexdigest() != statement["body_sha256"]:
        return bad("entry lines differ from the signed digest (lines altered, added or removed)")
    if first_problem:
        return bad(first_problem)
    if n != statement["entry_count"]:
        return bad(f"{n} entries, the statement signs {statement['entry_count']}")
    starts, ends = _heads_of(statement["starts"]), _heads_of(statement["ends"])
    for c, (seq, h) in starts.items():
        got = state.get(c)
        last = (got[0], got[1]) if got else (seq, h)
        if got and got[2] != (seq, h):
            return bad(f"chain {c} does not start at the signed start")
        if last != ends.get(c):
            return bad(f"chain {c} ends at seq {last[0]}, the statement signs {ends.get(c, (None,))[0]}")
    if set(state) - set(starts):
        return bad("entries of a chain the statement does not name")
    return check


def _check_line(raw: bytes, state: dict[int, list[Any]], n: int) -> str | None:
    """Check one entry line against its hash and its chain's previous line; the state keeps,
    per chain, [last seq, last hash, (first seq - 1, first prev_hash)]."""
    try:
        rid, chain, seq, at, *content, prev, entry = json.loads(raw)
        ok = chain_digest(prev, canonical_text(chain, seq, at, *content)) == entry
    except (ValueError, TypeError):
        return f"line {n} is not an entry"
    st = state.get(chain)
    if st is None:
        state[chain] = [seq, entry, (seq - 1, prev)]
    elif seq != st[0] + 1 or prev != st[1]:
        return f"entry id={rid} (chain {chain}, seq {seq}) does not follow the entry before it"
    else:
        st[0], st[1] = seq, entry
    if not ok:
        return f"entry id={rid} (chain {chain}, seq {seq}) does not match its hash (altered)"
    return None


def verify_segment_sequence(checks: list[SegmentCheck]) -> list[str]:
    """Problems with a run of intact segments as a whole: each must continue the one before
    (its starts equal the earlier ends, its ``previous`` the earlier statement's digest)."""
    problems = []
    for a, b in itertools.pairwise(checks):
        if b.statement.get("previous") != _statement_digest(a.statement_text):
            problems.append(f"{b.path.name} does not follow {a.path.name}")
            continue
        a_ends = _heads_of(a.statement["ends"])
        for c, head in _heads_of(b.statement["starts"]).items():
            if a_ends.get(c, (0, GENESIS)) != head:
                problems.append(f"{b.path.name} chain {c} does not start where {a.path.name} ends")
    return problems

"""Archive old months of the audit log as signed, self-verifying segment files (PostgreSQL).

A segment file (``audit-segment-YYYY-MM.jsonl.gz``) holds, one line each, every entry of
the archived stretch in (chain, seq) order, as the verifier reads it from PostgreSQL (COPY
text of ``verify._PG_SELECT``: the exact bytes its hash covers, joined by tabs), and ends
with one JSON line ``{"statement", "signature"}``: an
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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cdp.audit.checkpoints import load_public_key, public_key_hex, stored_checkpoints
from cdp.audit.log import GENESIS
from cdp.audit.models import AuditSegment
from cdp.audit.segments import (
    Heads,
    heads_json,
    heads_of,
    signature_ok,
    statement_digest,
)
from cdp.db import is_postgres, utcnow
from cdp.errors import ValidationError

SEGMENT_TYPE = "cdp-audit-segment/1"
# Entry lines are PostgreSQL COPY text lines of verify._PG_SELECT (id, chain, seq, at as
# Python's isoformat, the head strings as JSON tokens, the JSON columns as stored text,
# prev_hash, entry_hash; tab-separated, COPY escapes): the verifier's own fast line hashing
# checks them, in or out of the database.
LINE_FORMAT = "cdp-audit-copy-text/1"
# zlib level: 1 writes ~3x faster than 6 for a file ~15% larger; archiving is a monthly
# batch whose speed matters (a month at 300 reads/s is 780 million entries).
GZIP_LEVEL = 3
MONTHS_AHEAD = 3
# A month is archived only once it has been over for this long: a writer whose clock lags
# (or whose transaction is slow) may still add an entry stamped with the month's last moment.
SETTLE = timedelta(days=1)



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
# -- archiving -------------------------------------------------------------------------------
def _ranges_sql(ranges: dict[int, tuple[int, int]]) -> str:
    conds = [
        f"(chain = {int(c)} AND seq > {int(lo)} AND seq <= {int(hi)})"
        for c, (lo, hi) in sorted(ranges.items())
        if hi > lo
    ]
    return " OR ".join(conds) or "false"


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
    ends_before: Heads = {}
    if previous is not None:
        # From the signed statement, not the row's unsigned ``ends`` column.
        if not signature_ok(signing_key.public_key(), previous.statement, previous.signature):
            raise ArchiveError(f"segment {previous.id}'s signature does not verify: run `cdp audit verify`")
        ends_before = heads_of(json.loads(previous.statement)["ends"])
    union = " UNION ALL ".join(
        # partition names come from pg_inherits (``partitions``), never from input
        f'SELECT chain, max(seq) AS seq FROM "{p.name}" GROUP BY chain' for p in parts  # noqa: S608
    )
    highest = {
        int(c): int(s)
        for c, s in session.execute(
            text(f"SELECT chain, max(seq) FROM ({union}) t GROUP BY chain")  # noqa: S608 - as above
        )
    }
    chains = sorted(set(highest) | set(ends_before))
    starts: Heads = {c: ends_before.get(c, (0, GENESIS)) for c in chains}
    ranges = {c: (starts[c][0], max(starts[c][0], highest.get(c, 0))) for c in chains}

    # Checkpoint heads falling inside the segment must match it (as verify would check).
    expected_labels: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for cp in stored_checkpoints(session):
        if cp.valid_under(signing_key.public_key()):
            for c, (seq, h) in cp.heads().items():
                if seq > starts.get(c, (0, GENESIS))[0]:  # else in an earlier segment
                    expected_labels.setdefault((c, seq), []).append((cp.label, h))

    from cdp.audit.verify import (
        _COPY_OPTIONS,
        _PG_SELECT,
        _check_copy_lines,
        _pg_setup,
        _walk,
        pinned_names,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"audit-segment-{before:%Y-%m}.jsonl.gz"
    final = out_dir / name
    partial = out_dir / (name + ".partial")
    body = hashlib.sha256()
    last_line: dict[bytes, bytes] = {}
    count = 0
    raw = session.connection().connection.dbapi_connection
    if raw is None:
        raise RuntimeError("the session's connection has no open driver connection")
    with (
        gzip.open(partial, "wb", compresslevel=GZIP_LEVEL) as fh,
        raw.cursor() as cur,  # type: ignore[attr-defined]  # psycopg's cursor is a context manager
    ):
        _pg_setup(cur)

        def written(copy: Iterator[Any]) -> Iterator[bytes]:
            # Each line as PostgreSQL printed it: written, digested, then checked by the
            # verifier's own line hashing (cdp/audit/verify.py), in (chain, seq) order.
            nonlocal count
            for data in copy:
                line = bytes(data)
                fh.write(line)
                body.update(line)
                last_line[line.split(b"\t", 2)[1]] = line
                count += 1
                yield line

        with pinned_names(cur) as table:
            copy_sql = (
                f"COPY ({_PG_SELECT.format(table=table)} WHERE {_ranges_sql(ranges)} "
                f"ORDER BY chain, seq){_COPY_OPTIONS}"
            )
            with cur.copy(copy_sql) as copy:
                walk = _walk(_check_copy_lines(written(copy)), expected_labels, starts)
        if walk.problems:
            first = min(walk.problems, key=lambda p: p.entry_id or 0)
            raise ArchiveError(f"{first.describe()}: run `cdp audit verify`")
        ends: Heads = dict(ends_before)
        for c in chains:
            line = last_line.get(str(c).encode())
            end = (int(line.split(b"\t", 3)[2]), line[-65:-1].decode()) if line else starts[c]
            if end[0] != ranges[c][1]:
                raise ArchiveError(f"chain {c} ends at seq {end[0]}, expected {ranges[c][1]}")
            ends[c] = end
        statement_body = {
            "type": SEGMENT_TYPE,
            "format": LINE_FORMAT,
            "before": before.isoformat(),
            "partitions": [p.name for p in parts],
            "starts": heads_json(starts),
            "ends": heads_json(ends),
            "entry_count": count,
            "body_sha256": body.hexdigest(),
            "previous": statement_digest(previous.statement) if previous else None,
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
    with partial.open("rb") as written_file:
        os.fsync(written_file.fileno())
    os.replace(partial, final)
    check = verify_segment_file(final, signing_key.public_key())
    if not check.ok:  # the file just written must stand on its own before anything is detached
        raise ArchiveError(f"the written segment does not verify: {check.problems[0]}")

    session.add(
        AuditSegment(
            at=now, before=before, file_name=name, entry_count=count,
            ends=heads_json(ends), statement=statement, signature=signature,
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
    with opener(path, "rb") as fh:
        yield from fh


def verify_segment_file(path: Path, public_key: Ed25519PublicKey | None = None) -> SegmentCheck:
    """Check a segment file with nothing else: its signature (under ``public_key``, or the key
    it names when none is given), the digest of its entry lines, and every entry's hash and
    link from the signed starts to the signed ends. Never raises for a bad file: reports it."""
    from cdp.audit.verify import _check_copy_lines

    check = SegmentCheck(path=path)

    def bad(message: str) -> SegmentCheck:
        check.ok = False
        check.problems.append(message)
        return check

    digest = hashlib.sha256()
    trailer: list[bytes] = []

    def entry_lines() -> Iterator[bytes]:
        # Every line but the last (the signed statement), digested on the way.
        pending: bytes | None = None
        for raw in _read_lines(path):
            if pending is not None:
                digest.update(pending)
                yield pending
            pending = raw
        if pending is not None:
            trailer.append(pending)

    # chain -> [seq before the first entry, prev_hash of the first, last seq, last hash]
    state: dict[int, list[Any]] = {}
    first_problem: str | None = None
    n = 0
    try:
        for rid, rchain, rseq, prev, entry, ok in _check_copy_lines(entry_lines()):
            n += 1
            if first_problem is not None:
                continue
            chain, seq = int(rchain), int(rseq)
            where = f"entry id={int(rid)} (chain {chain}, seq {seq})"
            st = state.get(chain)
            if st is None:
                state[chain] = [seq - 1, prev.decode(), seq, entry.decode()]
            elif seq != st[2] + 1 or prev.decode() != st[3]:
                first_problem = f"{where} does not follow the entry before it"
            else:
                st[2], st[3] = seq, entry.decode()
            if not ok and first_problem is None:
                first_problem = f"{where} does not match its hash (altered)"
    except (OSError, EOFError, gzip.BadGzipFile, ValueError) as exc:
        return bad(f"unreadable ({type(exc).__name__})")
    if not trailer:
        return bad("empty file")
    try:
        parsed = json.loads(trailer[0])
        statement_text = parsed["statement"]
        signature = base64.b64decode(parsed["signature"])
        statement = json.loads(statement_text)
    except (ValueError, KeyError, TypeError):
        return bad("the last line is not a signed statement")
    check.statement, check.statement_text, check.entries = statement, statement_text, n
    if statement.get("type") != SEGMENT_TYPE:
        return bad("not a cdp audit segment")
    try:
        key = public_key or load_public_key(statement.get("public_key", ""))
    except ValueError:
        return bad("the statement names no valid public key")
    if not signature_ok(key, statement_text, signature):
        return bad("signature does not verify")
    if digest.hexdigest() != statement["body_sha256"]:
        return bad("entry lines differ from the signed digest (lines altered, added or removed)")
    if first_problem:
        return bad(first_problem)
    if n != statement["entry_count"]:
        return bad(f"{n} entries, the statement signs {statement['entry_count']}")
    starts, ends = heads_of(statement["starts"]), heads_of(statement["ends"])
    for c, start in starts.items():
        st = state.get(c)
        if st is not None and (st[0], st[1]) != start:
            return bad(f"chain {c} does not start at the signed start")
        last = (st[2], st[3]) if st is not None else start
        if last != ends.get(c):
            return bad(f"chain {c} ends at seq {last[0]}, not where the statement says")
    if set(state) - set(starts):
        return bad("entries of a chain the statement does not name")
    return check


def verify_segment_sequence(checks: list[SegmentCheck]) -> list[str]:
    """Problems with a run of intact segments as a whole: each must continue the one before
    (its starts equal the earlier ends, its ``previous`` the earlier statement's digest)."""
    problems = []
    for a, b in itertools.pairwise(checks):
        if b.statement.get("previous") != statement_digest(a.statement_text):
            problems.append(f"{b.path.name} does not follow {a.path.name}")
            continue
        a_ends = heads_of(a.statement["ends"])
        for c, head in heads_of(b.statement["starts"]).items():
            if a_ends.get(c, (0, GENESIS)) != head:
                problems.append(f"{b.path.name} chain {c} does not start where {a.path.name} ends")
    return problems

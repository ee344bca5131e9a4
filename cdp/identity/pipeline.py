"""The ingest pipeline, used by ``cdp ingest`` and ``POST /v1/records``: records in,
prepared (in worker processes for files), resolved and stored one transaction per batch.

``ingest_lines`` takes numbered JSON lines (rejects go to a callback with their line number
and reason); ``ingest_records`` takes validated records. A crash loses at most the batch in
flight, and rerunning the same input changes nothing (content HMAC; newest version wins).
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cdp.crypto.keyring import Keyring
from cdp.db import is_postgres
from cdp.db.stats import maintain_grown
from cdp.identity.evidence import EvidenceCache
from cdp.identity.prepare import PreparedRecord, prepare
from cdp.identity.records import RecordIn, RecordRejected, parse_line
from cdp.identity.resolve import RecordResult, ingest_batch
from cdp.identity.rules import IdentityRules, load_rules
from cdp.identity.vocabulary import DECLARED_PROFILE
from cdp.identity.writer import BatchStats
from cdp.pii.allow import use_policy_dir
from cdp.pii.analyzer import get_analyzer
from cdp.pii.classify import text_to_scan
from cdp.pii.scan import prefetch as scan_prefetch
from cdp.policyfiles import PolicyFiles


@dataclass
class IngestSummary:
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_customers: int = 0
    merges: int = 0
    candidates: int = 0  # stored customers loaded as candidates, summed over batches
    from_records: int = 0  # of those, read from their records (cdp.identity.summary)

    def line(self) -> str:
        return (
            f"read {self.read}, accepted {self.accepted}, rejected {self.rejected}, "
            f"new customers {self.new_customers}, merges {self.merges} "
            f"(created {self.created}, updated {self.updated}, unchanged {self.unchanged})"
        )


def _chunked(items: Iterable[tuple[int, RecordIn]], size: int) -> Iterator[list[tuple[int, RecordIn]]]:
    """Batches of at most ``size`` in input order (keys may repeat: see ``store_prepared``)."""
    batch: list[tuple[int, RecordIn]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_records(
    platform: Any,
    items: Iterable[tuple[int, RecordIn]],
    *,
    actor: str,
    batch_size: int = 500,
    summary: IngestSummary | None = None,
    on_batch: Callable[[int], None] | None = None,
    workers: int = 0,
) -> IngestSummary:
    """Prepare, resolve and store validated records, committing once per batch.

    A crash loses at most the batch in flight (nothing half-written: the transaction rolls
    back); rerunning the same input skips what is already stored (content HMAC).
    """
    summary = summary or IngestSummary()
    rules = load_rules(platform.policies)
    if workers > 0:
        prepared_batches = _prepared_in_workers(platform, items, batch_size, workers)
    else:
        prepared_batches = (
            (len(batch), _prepare_all([rec for _, rec in batch], platform.keyring, rules,
                                      platform.policies))
            for batch in _chunked(items, batch_size)
        )
    return _store_batches(platform, prepared_batches, actor=actor, rules=rules, summary=summary,
                          on_batch=on_batch)


def ingest_lines(
    platform: Any,
    lines: Iterable[tuple[int, str]],
    *,
    actor: str,
    on_reject: Callable[[int, str], None],
    batch_size: int = 500,
    summary: IngestSummary | None = None,
    on_batch: Callable[[int], None] | None = None,
    workers: int = 0,
) -> IngestSummary:
    """``ingest_records`` for raw JSON lines (numbered): a line that is not a valid record
    goes to ``on_reject(line_number, reason)`` and the rest goes in. Blank lines are skipped.
    With workers, parsing and validation happen in the worker processes too."""
    summary = summary or IngestSummary()
    if workers <= 0:
        def items() -> Iterator[tuple[int, RecordIn]]:
            for n, line in lines:
                if not line.strip():
                    continue
                summary.read += 1
                try:
                    yield n, parse_line(line)
                except RecordRejected as e:
                    summary.rejected += 1
                    on_reject(n, e.reason)

        return ingest_records(platform, items(), actor=actor, batch_size=batch_size,
                              summary=summary, on_batch=on_batch)
    rules = load_rules(platform.policies)
    return _store_batches(
        platform, _lines_in_workers(platform, lines, batch_size, workers, summary, on_reject),
        actor=actor, rules=rules, summary=summary, on_batch=on_batch)


# Collector thresholds while a bulk ingest runs (CPython's default is 700, 10, 10).
BULK_GC_THRESHOLD = (50_000, 20, 100)


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Make CPython's cyclic garbage collector rarer for a bulk run (``cdp ingest``: a
    process-wide setting, so the command that owns the process sets it, not the library).

    Ingest keeps many small long-lived objects (the loaded models and dictionaries of the
    PII engine and the normalisers, the evidence cache, a batch's rows): with the default
    thresholds every full collection walks all of them again, and the heap grows, so full
    collections keep coming and take a large share of an ingest's CPU time.
    What exists at the start is frozen (never scanned again; it lives as long as the process
    anyway) and collections happen after 50,000 allocations instead of 700. Reference
    counting still frees every acyclic object at once; cycles are still collected, later.
    """
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _store_batches(platform: Any, prepared_batches: Iterable[tuple[int, list[PreparedRecord]]],
                   *, actor: str, rules: IdentityRules, summary: IngestSummary,
                   on_batch: Callable[[int], None] | None) -> IngestSummary:
    cache = EvidenceCache()
    # The data keys a bulk ingest creates and unwraps are its own business: the evidence
    # cache keeps those of the customers it holds, and the process-wide key cache (sized for
    # the read path) would otherwise fill to its cap with a key per customer ingested, the
    # ingesting process's memory growing all the way.
    with platform.keys.uncached():
        _store_all(platform, prepared_batches, actor=actor, rules=rules, summary=summary,
                   on_batch=on_batch, cache=cache)
    return summary


def _store_all(platform: Any, prepared_batches: Iterable[tuple[int, list[PreparedRecord]]],
               *, actor: str, rules: IdentityRules, summary: IngestSummary,
               on_batch: Callable[[int], None] | None, cache: EvidenceCache) -> None:
    for n_batch, prepared in prepared_batches:
        # One transaction per batch even when a key repeats in it (a re-send close behind the
        # record it updates): re-sends go to a later resolution round of the same
        # transaction, so each is applied after the record it updates, and the batch still
        # commits once instead of being split at every re-send.
        with platform.transaction() as session:
            _bulk_session(session)
            results, stats = store_prepared(session, platform, prepared, actor=actor,
                                            rules=rules, cache=cache)
            summary.accepted += len(results)
            summary.new_customers += stats.new_customers
            summary.merges += stats.merges
            summary.candidates += stats.candidates
            summary.from_records += stats.from_records
            for r in results:
                setattr(summary, r.status, getattr(summary, r.status) + 1)
        # between batches, not inside one: the next batch's candidate lookups plan with
        # statistics that know the tables' size (cdp/db/stats.py)
        maintain_grown(platform.engine)
        if on_batch:
            on_batch(n_batch)


# SQLite's default page cache (2 MB) is far smaller than the indexes a bulk ingest probes at
# random (ids and blind indexes are random), so every batch re-reads pages from the OS; a
# 64 MB cache per connection keeps the hot part of them in the process.
SQLITE_CACHE_KIB = 65_536
# Checkpoint the WAL every ~64 MB instead of every 4 MB (SQLite's default): the random index
# pages a batch dirties are mostly the ones the next batches dirty again, so a longer
# interval copies each of them into the database file once instead of once per batch.
SQLITE_CHECKPOINT_PAGES = 16_384


def _bulk_session(session: Any) -> None:
    """Connection settings for bulk ingest (SQLite only; per connection, idempotent)."""
    if is_postgres(session):
        return
    conn = session.connection()
    if conn.info.get("cdp_bulk_pragmas"):  # ``info`` lives as long as the driver connection
        return
    # setting cache_size again, even to the same value, costs milliseconds per batch
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    conn.info["cdp_bulk_pragmas"] = True


_WORKER: tuple[Keyring, IdentityRules, PolicyFiles] | None = None


def _die_with_parent(parent: int) -> None:
    """Have the kernel end this worker when the process that started it dies (Linux's
    PR_SET_PDEATHSIG): a ``cdp ingest`` killed with SIGKILL runs no clean-up of its own, and
    its workers would otherwise live on, orphaned."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _worker_init(keyring_path: str, policy_dir: str, parent: int) -> None:
    global _WORKER
    _die_with_parent(parent)
    # The worker's own PolicyFiles over the same directory (the parent's holds locks).
    policies = PolicyFiles(policy_dir)
    _WORKER = (Keyring.load(keyring_path), load_rules(policies), policies)
    use_policy_dir(policy_dir)  # the deployment's own names (cdp/pii/allow.py)
    get_analyzer()  # load the PII engine now, so it is frozen with the rest (see bulk_gc)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLD)


def _worker_state() -> tuple[Keyring, IdentityRules, PolicyFiles]:
    """The keyring, rules and policy files _worker_init loaded into this worker process."""
    if _WORKER is None:
        raise RuntimeError("ingest worker used before _worker_init ran")
    return _WORKER


def _texts_of(recs: Iterable[RecordIn | None]) -> Iterator[str]:
    """What preparing these records scans: their notes, and the values of their undeclared
    fields (classified by a scan, each otherwise a model run of its own)."""
    for r in recs:
        if r is None:
            continue
        for i in r.interactions:
            if i.text:
                yield i.text
        for k, v in r.profile.items():
            if not (k in DECLARED_PROFILE and (isinstance(v, str) or v is None)):
                yield text_to_scan(k, v)
        for k, v in (r.model_extra or {}).items():
            yield text_to_scan(k, v)


# Records whose notes the name model reads in one go: enough notes for full batches, few
# enough that the parsed records of a slice add little to a worker's memory.
PREFETCH_RECORDS = 256


def _prepare_all(recs: list[RecordIn], keyring: Keyring, rules: IdentityRules,
                 policies: PolicyFiles) -> list[PreparedRecord]:
    # The name model runs over the notes of many records at once (batched, it costs far
    # less than over each record's one or two notes).
    out: list[PreparedRecord] = []
    for lo in range(0, len(recs), PREFETCH_RECORDS):
        part = recs[lo : lo + PREFETCH_RECORDS]
        with scan_prefetch(_texts_of(part)):
            out.extend(prepare(r, keyring, rules, policies) for r in part)
    return out


def _worker_prepare(recs: list[RecordIn]) -> list[PreparedRecord]:
    keyring, rules, policies = _worker_state()
    return _prepare_all(recs, keyring, rules, policies)


def _worker_parse_prepare(
    lines: list[tuple[int, str]],
) -> list[tuple[int, PreparedRecord | None, str | None]]:
    keyring, rules, policies = _worker_state()
    out: list[tuple[int, PreparedRecord | None, str | None]] = []
    for lo in range(0, len(lines), PREFETCH_RECORDS):
        parsed: list[tuple[int, RecordIn | None, str | None]] = []
        for n, line in lines[lo : lo + PREFETCH_RECORDS]:
            try:
                parsed.append((n, parse_line(line), None))
            except RecordRejected as e:
                parsed.append((n, None, e.reason))
        with scan_prefetch(_texts_of(rec for _, rec, _ in parsed)):
            for n, rec, reason in parsed:
                if rec is None:
                    out.append((n, None, reason))
                    continue
                try:
                    out.append((n, prepare(rec, keyring, rules, policies), None))
                except RecordRejected as e:
                    out.append((n, None, e.reason))
    return out


def _resolution_rounds(prepared: list[PreparedRecord]) -> list[list[int]]:
    """Resolution rounds of one batch (positions in it): the first occurrence of each key,
    then the second ones, and so on, each in input order. A re-send is applied after the
    record it updates; records between the two are resolved before it, as they would be had
    the re-send come in the next batch (within a transaction nobody sees the difference)."""
    rounds: list[list[int]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, p in enumerate(prepared):
        n = seen.get(p.key, 0)
        seen[p.key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(i)
    return rounds


def store_prepared(session: Any, platform: Any, prepared: list[PreparedRecord], *, actor: str,
                   rules: IdentityRules, cache: EvidenceCache | None = None,
                   ) -> tuple[list[RecordResult], BatchStats]:
    """Resolve and store one batch in ``session`` (flushes, never commits); keys may repeat.
    Returns one result per record, in the batch's order, and the batch's counts."""
    out: list[RecordResult | None] = [None] * len(prepared)
    stats = BatchStats()
    for positions in _resolution_rounds(prepared):
        results, st = ingest_batch(session, platform, [prepared[i] for i in positions],
                                   actor=actor, rules=rules, cache=cache)
        stats.new_customers += st.new_customers
        stats.merges += st.merges
        stats.candidates += st.candidates
        stats.from_records += st.from_records
        by_key = {(r.source, r.source_record_id): r for r in results}
        for i in positions:
            out[i] = by_key[prepared[i].key]
    return [r for r in out if r is not None], stats


FIRST_CHUNK = 250


def _lines_in_workers(
    platform: Any, lines: Iterable[tuple[int, str]], batch_size: int, workers: int,
    summary: IngestSummary, on_reject: Callable[[int, str], None],
) -> Iterator[tuple[int, list[PreparedRecord]]]:
    """Parse, validate and prepare chunks of raw lines in worker processes; rejects are
    reported in line order before the chunk's records are stored."""

    def chunks() -> Iterator[list[tuple[int, str]]]:
        # The first chunks are small and double up to ``batch_size``: the storing process
        # starts as soon as a few hundred lines are prepared, not a whole batch.
        size = min(batch_size, FIRST_CHUNK)
        chunk: list[tuple[int, str]] = []
        for n, line in lines:
            if not line.strip():
                continue
            summary.read += 1
            chunk.append((n, line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
                size = min(batch_size, size * 2)
        if chunk:
            yield chunk

    def results(fut: Any) -> tuple[int, list[PreparedRecord]]:
        prepared: list[PreparedRecord] = []
        for n, p, reason in fut.result():
            if p is None:
                summary.rejected += 1
                on_reject(n, reason or "rejected")
            else:
                prepared.append(p)
        return len(prepared), prepared

    for fut in _in_workers(platform, workers, _worker_parse_prepare, chunks()):
        yield results(fut)


def _in_workers(platform: Any, workers: int, fn: Callable[[Any], Any],
                jobs: Iterable[Any]) -> Iterator[Any]:
    """Futures of ``fn(job)`` run in ``workers`` forked processes, in the jobs' order, at
    most ``workers + 1`` ahead of the consumer (memory stays bounded)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_worker_init,
        initargs=(platform.config.keyring_path, str(platform.policies.directory), os.getpid()),
    ) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(fn, job))
            if len(pending) > workers + 1:
                yield pending.popleft()
        while pending:
            yield pending.popleft()


def _prepared_in_workers(
    platform: Any, items: Iterable[tuple[int, RecordIn]], batch_size: int, workers: int
) -> Iterator[tuple[int, list[PreparedRecord]]]:
    """Prepare batches in worker processes while the caller stores earlier ones (PII scans
    and classification are CPU-bound and need no database). Order is preserved."""
    sizes: deque[int] = deque()

    def jobs() -> Iterator[list[RecordIn]]:
        for batch in _chunked(items, batch_size):
            sizes.append(len(batch))
            yield [r for _, r in batch]

    for fut in _in_workers(platform, workers, _worker_prepare, jobs()):
        yield sizes.popleft(), fut.result()

"""Source records in: validation (pydantic), normalisation, and the batch loop.

``parse_line`` / ``validate_record`` turn raw input into a ``RecordIn`` or a rejection reason
that never quotes a value; ``prepare`` derives everything resolution and storage need
(normal forms, blind indexes, features, the content HMAC); ``ingest_records`` drives batches
of prepared records through ``resolve.ingest_batch``, one transaction per batch.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from cdp.crypto import fields
from cdp.crypto.blind_index import blind_index
from cdp.crypto.keyring import Keyring
from cdp.identity import normalize as nz
from cdp.identity.matching import Features, national_id_features
from cdp.identity.rules import IdentityRules
from cdp.pii.policy import load_policy
from cdp.pii.redact import apply_operators
from cdp.pii.scan import scan_texts

DECLARED_PROFILE = ("name", "gender", "birth_date", "address")
CONTRACT_FIELDS = frozenset(
    {"source", "source_record_id", "observed_at", "identifiers", "profile", "orders",
     "interactions", "consents"}
)
CHINA_TZ = timezone(timedelta(hours=8))
MAX_TEXT = 20_000


When = Annotated[datetime, AfterValidator(lambda v: _aware(v))]


class _Flexible(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


def _aware(v: datetime | None) -> datetime | None:
    # Channel exports without an offset are mainland local time.
    if v is not None and v.tzinfo is None:
        return v.replace(tzinfo=CHINA_TZ)
    return v


class IdentifierIn(BaseModel):
    type: str = Field(min_length=1, max_length=32)
    value: str = Field(min_length=1, max_length=256)

    @field_validator("value", mode="before")
    @classmethod
    def _number_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class ItemIn(_Flexible):
    sku: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=500)
    rx: bool = False
    qty: float = 1
    unit_price: float | None = None


class OrderIn(_Flexible):
    order_id: str = Field(min_length=1, max_length=128)
    ordered_at: When | None = None
    items: list[ItemIn] = Field(default_factory=list, max_length=500)
    total: float | None = None



class InteractionIn(BaseModel):
    kind: str = Field(default="note", min_length=1, max_length=32)
    at: When | None = None
    text: str = Field(max_length=MAX_TEXT)



class ConsentIn(BaseModel):
    purpose: str = Field(min_length=1, max_length=64)
    granted: bool
    at: When | None = None
    channel: str | None = Field(default=None, max_length=64)
    version: str | None = Field(default=None, max_length=32)



class RecordIn(_Flexible):
    """CONTRACT §3 source record; unknown top-level fields are kept (``model_extra``)."""

    source: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    source_record_id: str = Field(min_length=1, max_length=200)
    observed_at: When | None = None
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=100)
    profile: dict[str, Any] = Field(default_factory=dict)
    orders: list[OrderIn] = Field(default_factory=list, max_length=1000)
    interactions: list[InteractionIn] = Field(default_factory=list, max_length=200)
    consents: list[ConsentIn] = Field(default_factory=list, max_length=100)



class RecordRejected(Exception):
    """A record that cannot be ingested; ``reason`` names fields, never values."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_input=False, include_url=False, include_context=False)[:5]:
        loc = ".".join(str(x) for x in e["loc"]) or "record"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def validate_record(obj: Any) -> RecordIn:
    """The validated record, or RecordRejected with a value-free reason."""
    if not isinstance(obj, dict):
        raise RecordRejected("record is not a JSON object")
    try:
        return RecordIn.model_validate(obj)
    except ValidationError as e:
        raise RecordRejected(_reason(e)) from None


def parse_line(line: str) -> RecordIn:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise RecordRejected(f"invalid JSON at column {getattr(e, 'colno', '?')}") from None
    return validate_record(obj)


# --- preparation -----------------------------------------------------------------------------


@dataclass
class PreparedIdentifier:
    type: str
    status: str
    value: str  # as received (encrypted at rest)
    bidx: str | None  # blind index of the normal form when it may be matched / searched
    strength: str


@dataclass
class PreparedRecord:
    source: str
    source_record_id: str
    observed_at: datetime | None
    content_hmac: str
    identifiers: list[PreparedIdentifier]
    match_keys: list[tuple[str, str]]  # (kind, blind index): weak evidence and blocking
    features: Features
    # Plaintexts to encrypt, serialised here (``fields.json_bytes``) so the storing process
    # only runs AES-GCM on them: the declared profile fields as received; the undeclared
    # fields ({"field", "value", "category", "in"}) or None; the orders or None.
    profile_json: bytes
    extra_json: bytes | None
    orders_json: bytes | None
    extra_categories: list[str]
    has_rx: bool
    interactions: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    categories: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_record_id)


IDENTIFIER_CATEGORY = {
    "phone": "contact",
    "email": "contact",
    "national_id": "government_id",
    "passport": "government_id",
    "wechat_unionid": "platform_id",
    "wechat_openid": "platform_id",
    "member_id": "platform_id",
    "platform_user_id": "platform_id",
    "device_id": "platform_id",
}
PROFILE_CATEGORY = {"name": "identity", "gender": "identity", "birth_date": "demographic",
                    "address": "address"}


def identifier_category(id_type: str) -> str:
    return IDENTIFIER_CATEGORY.get(id_type, "unknown")


def bidx_kind(id_type: str) -> str:
    return f"id:{id_type}"


def match_kind(kind: str) -> str:
    return f"mk:{kind}"


def lookup_index(keyring: Keyring, id_type: str, value: str, source: str | None = None) -> str | None:
    """Blind index to search identifiers of ``id_type`` for ``value`` (exact after
    normalisation); None when the value is not searchable (masked, invalid, unknown type).
    ``source`` is needed for identifiers scoped by source (platform_user_id, wechat_openid)."""
    n = nz.normalize_identifier(id_type, value, source or "")
    if n.status not in (nz.VALID, nz.PLACEHOLDER) or n.norm is None:
        return None
    return blind_index(keyring, bidx_kind(id_type), n.norm)


@lru_cache(maxsize=20_000)
def _classify(name: str, value_json: str) -> str:
    from cdp.pii.classify import classify_field

    return classify_field(name, json.loads(value_json))


def classify_extra(name: str, value: Any) -> str:
    """classify_field, memoised: channel exports repeat the same small values a lot."""
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(raw) > 512:
        from cdp.pii.classify import classify_field

        return classify_field(name, value)
    return _classify(name, raw)


def _canonical(rec: RecordIn) -> bytes:
    data = rec.model_dump(mode="json", exclude_none=False)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _utc(v: datetime | None) -> datetime | None:
    """``v`` in UTC (how it is stored anyway). Parsed offsets are each their own tzinfo object,
    which made unpickling a prepared batch in the storing process cost 6 ms per 1,000 records
    for the timestamps alone; UTC is one shared object."""
    return v.astimezone(UTC) if v is not None else None


def prepare(rec: RecordIn, keyring: Keyring, rules: IdentityRules) -> PreparedRecord:
    """Normal forms, blind indexes and features of one validated record (no I/O)."""
    source = rec.source
    digest = hmac.new(keyring.index_key("content"), _canonical(rec), hashlib.sha256).hexdigest()
    feats = Features()
    idents: list[PreparedIdentifier] = []
    mkeys: set[tuple[str, str]] = set()
    categories: set[str] = set()
    for ident in rec.identifiers:
        n = nz.normalize_identifier(ident.type, ident.value, source)
        status, bidx = n.status, None
        if n.norm is not None and rules.is_blocked(n.type, n.norm):
            status = nz.PLACEHOLDER
        strength = rules.strength_of(n.type) if status == nz.VALID else "none"
        if n.norm is not None and status in (nz.VALID, nz.PLACEHOLDER):
            bidx = blind_index(keyring, bidx_kind(n.type), n.norm)
        if status == nz.VALID and strength != "none":
            feats.ids.setdefault(n.type, set()).add(bidx)  # type: ignore[arg-type]
        if status in (nz.VALID, nz.MASKED):
            for kind, v in n.weak:
                b = blind_index(keyring, match_kind(kind), v)
                mkeys.add((kind, b))
                if kind == "phone_ps":
                    feats.phone_ps.add(b)
        if status == nz.VALID and n.type == "national_id" and n.norm:
            feats.absorb(national_id_features(n.norm))
        idents.append(PreparedIdentifier(ident.type, status, ident.value, bidx, strength))
        categories.add(identifier_category(ident.type))

    profile: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    for k, v in rec.profile.items():
        if k in DECLARED_PROFILE and (isinstance(v, str) or v is None):
            if v is not None and v != "":
                profile[k] = v
                categories.add(PROFILE_CATEGORY[k])
        else:
            cat = classify_extra(k, v)
            extra.append({"field": k, "value": v, "category": cat, "in": "profile"})
            categories.add(cat)
    for k, v in (rec.model_extra or {}).items():
        cat = classify_extra(k, v)
        extra.append({"field": k, "value": v, "category": cat, "in": "record"})
        categories.add(cat)

    name = nz.normalize_name(profile["name"]) if "name" in profile else None
    if name is not None:
        feats.names.append(name)
        if name.kind == "full":
            mkeys.add(("name", blind_index(keyring, match_kind("name"), name.text)))
        if name.tokens and name.kind in ("full", "latin"):
            mkeys.add(("name_py", blind_index(keyring, match_kind("name_py"), name.pinyin_key)))
        if name.kind == "latin":
            for tok in set(name.tokens):
                if len(tok) >= 3:
                    mkeys.add(("tok", blind_index(keyring, match_kind("tok"), tok)))
        if name.gender:
            feats.genders.add(name.gender)
    gender = nz.normalize_gender(profile.get("gender"))
    if gender:
        feats.genders.add(gender)
    dob = nz.normalize_birth_date(profile.get("birth_date"))
    if dob:
        feats.dobs.add(dob)
    for d in feats.dobs:
        mkeys.add(("dob", blind_index(keyring, match_kind("dob"), d)))
    if isinstance(profile.get("address"), str):
        addr = nz.normalize_address(profile["address"])
        if addr:
            feats.addresses.add(addr)
            mkeys.add(("addr", blind_index(keyring, match_kind("addr"), addr)))

    orders = [o.model_dump(mode="json") for o in rec.orders]
    has_rx = any(item.rx for o in rec.orders for item in o.items)
    if rec.orders:
        categories.add("health" if has_rx else "purchase")
    interactions = []
    notes = [i for i in rec.interactions if i.text]
    # Redaction happens here, before the resolution lock is taken: it is the slow part.
    # scan_texts answers repeated notes from its memo (same result as scanning each).
    storage = load_policy("storage") if notes else None
    scanned = (scan_texts([i.text for i in notes], min_score=storage.threshold_for)
               if storage is not None else [])
    for i, found in zip(notes, scanned, strict=True):
        interactions.append({"kind": i.kind, "at": _utc(i.at), "text": i.text,
                             "text_redacted": apply_operators(i.text, found, storage, None),
                             "entity_types": sorted({e.type for e in found})})
    if interactions:
        categories.add("free_text")
    consents = [{**c.model_dump(), "at": _utc(c.at)} for c in rec.consents]
    if consents:
        categories.add("consent")
    return PreparedRecord(
        source=source,
        source_record_id=rec.source_record_id,
        observed_at=_utc(rec.observed_at),
        content_hmac=digest,
        identifiers=idents,
        match_keys=sorted(mkeys),
        features=feats,
        profile_json=fields.json_bytes(profile),
        extra_json=fields.json_bytes(extra) if extra else None,
        orders_json=fields.json_bytes(orders) if orders else None,
        extra_categories=sorted({e["category"] for e in extra}),
        has_rx=has_rx,
        interactions=interactions,
        consents=consents,
        categories=categories,
    )


# --- the batch loop --------------------------------------------------------------------------


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

    def line(self) -> str:
        return (
            f"read {self.read}, accepted {self.accepted}, rejected {self.rejected}, "
            f"new customers {self.new_customers}, merges {self.merges} "
            f"(created {self.created}, updated {self.updated}, unchanged {self.unchanged})"
        )


def batches(
    items: Iterable[tuple[int, RecordIn]], size: int
) -> Iterator[list[tuple[int, RecordIn]]]:
    """Batches of at most ``size``; a key repeated inside a batch starts a new batch so a
    re-send is applied after the record it updates."""
    batch: list[tuple[int, RecordIn]] = []
    keys: set[tuple[str, str]] = set()
    for n, rec in items:
        key = (rec.source, rec.source_record_id)
        if key in keys or len(batch) >= size:
            yield batch
            batch, keys = [], set()
        batch.append((n, rec))
        keys.add(key)
    if batch:
        yield batch


def _chunked(items: Iterable[tuple[int, RecordIn]], size: int) -> Iterator[list[tuple[int, RecordIn]]]:
    """Batches of at most ``size`` in input order (keys may repeat: see ``_store_batches``)."""
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
    from cdp.identity.rules import load_rules

    summary = summary or IngestSummary()
    rules = load_rules(platform.config.policy_dir)
    if workers > 0:
        prepared_batches = _prepared_in_workers(platform, items, batch_size, workers)
    else:
        prepared_batches = (
            (len(batch), [prepare(rec, platform.keyring, rules) for _, rec in batch])
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
    from cdp.identity.rules import load_rules

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
    rules = load_rules(platform.config.policy_dir)
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
    collections keep coming; measured, that was a third to half of an ingest's CPU time.
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
    from cdp.identity.resolve import EvidenceCache, ingest_batch

    cache = EvidenceCache()
    for n_batch, prepared in prepared_batches:
        # One transaction per batch even when a key repeats in it (a re-send close behind the
        # record it updates): re-sends go to a later resolution round of the same
        # transaction, so each is applied after the record it updates, and the batch still
        # commits once (3 % re-sends had split batches of 2,000 into ~400s, and commits and
        # per-round reads were a third of the storing process's time).
        with platform.transaction() as session:
            _bulk_session(session)
            for part in _resolution_rounds(prepared):
                results, stats = ingest_batch(session, platform, part, actor=actor, rules=rules,
                                              cache=cache)
                summary.accepted += len(results)
                summary.new_customers += stats.new_customers
                summary.merges += stats.merges
                for r in results:
                    setattr(summary, r.status, getattr(summary, r.status) + 1)
        if on_batch:
            on_batch(n_batch)
    return summary


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
    from cdp.db import is_postgres

    if is_postgres(session):
        return
    conn = session.connection()
    if conn.info.get("cdp_bulk_pragmas"):  # ``info`` lives as long as the driver connection
        return
    # setting cache_size again, even to the same value, costs milliseconds per batch
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    conn.info["cdp_bulk_pragmas"] = True


_WORKER: tuple[Keyring, IdentityRules] | None = None


def _worker_init(keyring_path: str, policy_dir: str) -> None:
    global _WORKER
    from cdp.identity.rules import load_rules
    from cdp.pii.analyzer import get_analyzer

    _WORKER = (Keyring.load(keyring_path), load_rules(policy_dir))
    get_analyzer()  # load the PII engine now, so it is frozen with the rest (see bulk_gc)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLD)


def _worker_prepare(recs: list[RecordIn]) -> list[PreparedRecord]:
    assert _WORKER is not None
    keyring, rules = _WORKER
    return [prepare(r, keyring, rules) for r in recs]


def _worker_parse_prepare(
    lines: list[tuple[int, str]],
) -> list[tuple[int, PreparedRecord | None, str | None]]:
    assert _WORKER is not None
    keyring, rules = _WORKER
    out: list[tuple[int, PreparedRecord | None, str | None]] = []
    for n, line in lines:
        try:
            out.append((n, prepare(parse_line(line), keyring, rules), None))
        except RecordRejected as e:
            out.append((n, None, e.reason))
    return out


def _resolution_rounds(prepared: list[PreparedRecord]) -> list[list[PreparedRecord]]:
    """Resolution rounds of one batch: the first occurrence of each key, then the second
    ones, and so on, each in input order. A re-send is applied after the record it updates;
    records between the two are resolved before it, as they would be had the re-send come
    in the next batch (within a transaction nobody sees the difference)."""
    rounds: list[list[PreparedRecord]] = []
    seen: dict[tuple[str, str], int] = {}
    for p in prepared:
        n = seen.get(p.key, 0)
        seen[p.key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(p)
    return rounds


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
        initargs=(platform.config.keyring_path, platform.config.policy_dir),
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

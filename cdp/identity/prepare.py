"""Preparing a validated record for resolution and storage, without any I/O.

``prepare`` derives everything resolution and storage need: normal forms, blind indexes,
matching features, the content HMAC, redacted free text and the serialised plaintexts to
encrypt. It runs in ingest's worker processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cdp.crypto import fields
from cdp.crypto.blind_index import blind_index
from cdp.crypto.keyring import Keyring
from cdp.identity import normalize as nz
from cdp.identity.identifiers import bidx_kind, match_kind, profile_features
from cdp.identity.matching import Features, national_id_features
from cdp.identity.records import RecordIn
from cdp.identity.rules import IdentityRules
from cdp.identity.vocabulary import DECLARED_PROFILE, PROFILE_CATEGORY, identifier_category
from cdp.pii.classify import classify_field
from cdp.pii.policy import load_policy
from cdp.pii.redact import apply_operators
from cdp.pii.scan import scan_texts
from cdp.policyfiles import PolicyFiles


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


@lru_cache(maxsize=20_000)
def _classify(name: str, value_json: str) -> str:
    return classify_field(name, json.loads(value_json))


def classify_extra(name: str, value: Any) -> str:
    """classify_field, memoised: channel exports repeat the same small values a lot."""
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(raw) > 512:
        return classify_field(name, value)
    return _classify(name, raw)


def _canonical(rec: RecordIn) -> bytes:
    data = rec.model_dump(mode="json", exclude_none=False)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _utc(v: datetime | None) -> datetime | None:
    """``v`` in UTC (how it is stored anyway). Parsed offsets are each their own tzinfo
    object; UTC is one shared object, which keeps pickling prepared batches between the
    worker processes and the storing process cheap."""
    return v.astimezone(UTC) if v is not None else None


def prepare(rec: RecordIn, keyring: Keyring, rules: IdentityRules,
            policies: PolicyFiles | None = None) -> PreparedRecord:
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
        if status == nz.VALID and strength != "none" and bidx is not None:  # a valid value has one
            feats.ids.setdefault(n.type, set()).add(bidx)
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

    stated = profile_features(profile)
    feats.absorb(stated)
    for name in stated.names:
        if name.kind == "full":
            mkeys.add(("name", blind_index(keyring, match_kind("name"), name.text)))
        if name.tokens and name.kind in ("full", "latin"):
            mkeys.add(("name_py", blind_index(keyring, match_kind("name_py"), name.pinyin_key)))
        if name.kind == "latin":
            for tok in set(name.tokens):
                if len(tok) >= 3:
                    mkeys.add(("tok", blind_index(keyring, match_kind("tok"), tok)))
    # every birth date, including those national ID numbers state
    for d in feats.dobs:
        mkeys.add(("dob", blind_index(keyring, match_kind("dob"), d)))
    for addr in stated.addresses:
        mkeys.add(("addr", blind_index(keyring, match_kind("addr"), addr)))

    orders = [o.model_dump(mode="json") for o in rec.orders]
    has_rx = any(item.rx for o in rec.orders for item in o.items)
    if rec.orders:
        categories.add("health" if has_rx else "purchase")
    interactions = []
    notes = [i for i in rec.interactions if i.text]
    # Redaction happens here, before the resolution lock is taken: it is the slow part.
    # scan_texts answers repeated notes from its memo (same result as scanning each).
    if notes:
        storage = load_policy("storage", policies)
        scanned = scan_texts([i.text for i in notes], min_score=storage.threshold_for)
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

"""Free text rendered under a role's PII operator set, without re-running detection per read.

A view that re-redacts notes (the pharmacist's ``pharmacy_care``: health terms kept,
identifiers masked) needs the spans of personal data in the note. Scanning with Presidio
costs about a millisecond per short note (warm engine), for every note on every read. The
spans are already known: ingest scanned the same text and stored its storage redaction, in
which every detected span was replaced by its type tag (``<PHONE_NUMBER>``,
policies/pii/storage.toml). Given the note and that redaction, the spans follow by aligning
the two; they are used only when the alignment is certain:

* every tag of the stored redaction is a value-independent replacement under the storage
  operator set, for an entity type the interaction records (``entity_types``), of the
  form ``<...>`` and distinct per type (so the tags in the redaction are found exactly);
* the note itself contains none of those tags (so each tag in the redaction came from a
  detected span, never from the note's own text);
* exactly one split of the note fits (the earliest and the latest fitting splits agree).

Otherwise (a legacy row, a storage policy that changed since ingest, a note quoting a tag,
two adjacent spans) the note is scanned as before. Scan results are remembered per process
by a keyed hash of the note (the key random per process, so the memo cannot be used to test
guesses from outside), holding spans and types only, never text, in a bounded memo.

The spans are those ingest found; a recogniser improved since then is used when the note is
scanned again, as for every other role's view (which serves the ingest-time redaction).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from cdp.pii.entities import Entity
from cdp.pii.operators import OPERATORS
from cdp.pii.policy import OperatorSet, load_policy
from cdp.pii.redact import apply_operators
from cdp.policyfiles import PolicyFiles

STORAGE_POLICY = "storage"
_TAG_FORM = re.compile(r"<[^<>]+>")
# Alignment works on notes of any length in linear time per span, but a note this long is
# not a note: scan it (scan_text windows and bounds it).
MAX_ALIGN_CHARS = 20_000
MEMO_ENTRIES = 10_000
_memo_key = secrets.token_bytes(32)
_memo: OrderedDict[bytes, tuple[Entity, ...]] = OrderedDict()
_memo_lock = threading.Lock()
# How each note's spans were found (tests and the bench read these; no values).
stats = {"aligned": 0, "memo": 0, "scanned": 0}


def render_text(
    text: str,
    pii_policy: str,
    *,
    text_redacted: str | None = None,
    entity_types: Iterable[str] | None = None,
    policies: PolicyFiles | None = None,
) -> str:
    """``text`` under the operator set ``pii_policy``: what
    ``redact_text(text, pii_policy).text`` returns, from the stored redaction when it
    determines the spans, else from a (remembered) scan. ``policies`` holds the operator
    sets (the platform's; without one, those of ``Config.from_env()``)."""
    op_set = load_policy(pii_policy, policies)
    if not text.strip():
        return text
    spans: Sequence[Entity] | None = None
    if text_redacted is not None and entity_types is not None:
        spans = spans_from_redaction(text, text_redacted, entity_types, policies)
    if spans is not None:
        stats["aligned"] += 1
    else:
        spans = _scan(text, op_set)
    return apply_operators(text, list(spans), op_set, None)


def spans_from_redaction(
    text: str, redacted: str, entity_types: Iterable[str], policies: PolicyFiles | None = None
) -> list[Entity] | None:
    """The spans of ``text`` that the storage operator set turned into ``redacted``, or None
    when they are not determined exactly (see the module docstring)."""
    if len(text) > MAX_ALIGN_CHARS or len(redacted) > MAX_ALIGN_CHARS:
        return None
    storage = load_policy(STORAGE_POLICY, policies)
    tags: dict[str, str] = {}
    for t in set(entity_types):
        rule = storage.rule_for(t)
        if rule.get("operator") != "replace":
            return None  # the stored form depends on the value: not alignable
        tag = OPERATORS["replace"]("", t, {k: v for k, v in rule.items() if k != "operator"}, None)
        if not _TAG_FORM.fullmatch(tag) or tag in tags:
            # Only self-delimiting tags, one per type, make the parse below exact: a tag
            # cannot start or end inside another or straddle a tag and the text around it.
            return None
        tags[tag] = t
    if not tags:
        return [] if text == redacted else None
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True)))
    if pattern.search(text) is not None:
        return None  # the note quotes a tag: a tag in the redaction may be literal text
    literals: list[str] = []
    types: list[str] = []
    pos = 0
    for m in pattern.finditer(redacted):
        literals.append(redacted[pos : m.start()])
        types.append(tags[m.group(0)])
        pos = m.end()
    literals.append(redacted[pos:])
    bounds = _unique_split(text, literals)
    if bounds is None:
        return None
    return [Entity(t, s, e, 1.0) for t, (s, e) in zip(types, bounds, strict=True)]


def _unique_split(text: str, literals: list[str]) -> list[tuple[int, int]] | None:
    """The (start, end) of each non-empty gap when ``text`` = literals[0] gap literals[1]
    gap ... literals[-1] in exactly one way; None when in none or several."""
    n = len(literals) - 1
    if not text.startswith(literals[0]):
        return None
    if n == 0:
        return [] if text == literals[0] else None
    size = len(text)
    # good[k]: the positions q at which literal k may start (its gap k ending at q) such
    # that the rest of the text can still be matched; sorted. Built from the end.
    good: list[list[int]] = [[] for _ in range(n + 1)]
    for k in range(n, 0, -1):
        lit = literals[k]
        # After literal k (ending at p) the rest fits: the text ends there (last literal),
        # or the next literal can still start after a non-empty gap.
        last = k == n
        nxt_max = size if last else good[k + 1][-1]
        found: list[int] = []
        if lit:
            q = text.find(lit, 1)
            while q != -1:
                end = q + len(lit)
                if (end == size) if last else (end < nxt_max):
                    found.append(q)
                q = text.find(lit, q + 1)
        elif last:
            found = [size]
        else:
            found = list(range(1, nxt_max))
        if not found:
            return None
        good[k] = found
    start = len(literals[0])
    if good[1][-1] <= start:
        return None
    earliest: list[tuple[int, int]] = []
    latest: list[tuple[int, int]] = []
    p_min = p_max = start
    for k in range(1, n + 1):
        g = good[k]
        q_min = g[bisect.bisect_right(g, p_min)]  # exists: good[k] was built that way
        q_max = g[-1]
        earliest.append((p_min, q_min))
        latest.append((p_max, q_max))
        if q_min != q_max or p_min != p_max:
            return None
        p_min = q_min + len(literals[k])
        p_max = q_max + len(literals[k])
    return earliest if earliest == latest else None


def _scan(text: str, op_set: OperatorSet) -> tuple[Entity, ...]:
    from cdp.pii.scan import scan_text

    # the policy's thresholds are part of the key: they decide which candidates are kept
    # (two platforms may hold different files of the same name)
    thresholds = repr((op_set.min_score, sorted(op_set.type_min_scores.items())))
    key = hmac.new(_memo_key, thresholds.encode() + b"\0" + text.encode(),
                   hashlib.sha256).digest()
    with _memo_lock:
        found = _memo.get(key)
        if found is not None:
            _memo.move_to_end(key)
    if found is not None:
        stats["memo"] += 1
        return found
    found = tuple(scan_text(text, min_score=op_set.threshold_for))
    stats["scanned"] += 1
    with _memo_lock:
        _memo[key] = found
        if len(_memo) > MEMO_ENTRIES:
            _memo.popitem(last=False)
    return found


def forget() -> None:
    """Drop remembered scans (tests; after the recognisers change)."""
    with _memo_lock:
        _memo.clear()

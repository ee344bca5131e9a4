"""Source records as they arrive: the record format (pydantic models) and its validation.

``parse_line`` / ``validate_record`` turn raw input into a ``RecordIn`` or a ``RecordRejected``
whose reason names fields, never values. The format is described in docs/records.md.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

CHINA_TZ = timezone(timedelta(hours=8))
MAX_TEXT = 20_000
# Bounds on what one record may carry: deeper nesting has no meaning in a channel export and
# would otherwise reach recursion limits in serialisation; the size bound keeps one record
# from tying up a worker (a full HTTP batch is bounded separately by the body limit).
MAX_DEPTH = 16
MAX_RECORD_CHARS = 1_000_000


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
    """A source record (docs/records.md); unknown top-level fields are kept (``model_extra``)."""

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


def _check_shape(obj: dict[str, Any]) -> None:
    """Refuse values nested deeper than MAX_DEPTH or records larger than MAX_RECORD_BYTES.

    Walked iteratively, so a hostile depth cannot exhaust the stack here; later steps
    (validation, canonical JSON, encryption) then only see bounded values.
    """
    stack: list[tuple[Any, int, str]] = [(obj, 0, "record")]
    size = 0
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise RecordRejected(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            size += 2 * len(value)
            for k, v in value.items():
                size += len(k) if isinstance(k, str) else 8
                stack.append((v, depth + 1, str(k) if depth == 0 else where))
        elif isinstance(value, list):
            size += len(value) + 2
            stack.extend((v, depth + 1, where) for v in value)
        elif isinstance(value, str):
            size += len(value)
        else:
            size += 8
        if size > MAX_RECORD_CHARS:
            raise RecordRejected(f"record larger than {MAX_RECORD_CHARS} characters")


def validate_record(obj: Any) -> RecordIn:
    """The validated record, or RecordRejected with a value-free reason."""
    if not isinstance(obj, dict):
        raise RecordRejected("record is not a JSON object")
    _check_shape(obj)
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

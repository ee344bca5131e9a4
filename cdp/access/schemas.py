"""Request and response models of the read API (validation and the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonValue

ViewName = Literal["plain", "masked", "redacted"]


class IdentifierOut(BaseModel):
    type: str
    status: str | None = None
    value: str | None = Field(None, description="plain, masked (138****5678) or [REDACTED]")
    category: str


class IdentityOut(BaseModel):
    source: str
    source_record_id: str
    observed_at: str | None = None
    identifiers: list[IdentifierOut]


class ProfileValue(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: Any = None
    category: str
    view: ViewName
    source: str | None = None
    source_record_id: str | None = None
    observed_at: str | None = None
    values: list[dict[str, Any]] = []


class OrderOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    order_id: str | None = None
    source: str | None = None
    ordered_at: str | None = None
    total: float | None = None
    items: list[dict[str, Any]]
    category: str
    view: ViewName


class InteractionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    kind: str | None = None
    at: str | None = None
    text: str | None = Field(None, description="original (plain) or redacted text")
    entity_types: list[str] = []
    category: str
    view: ViewName


class LinkOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str | None = None
    source_record_id: str | None = None
    rule: str
    evidence: list[str] = []
    score: float | None = None


class CustomerOut(BaseModel):
    """The unified customer view rendered for the caller's role and purpose.

    Categories the role may not see are absent; see policies/views.toml.
    """

    customer_id: str
    status: Literal["active", "merged", "erased", "restricted"]
    merged_into: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    identities: list[IdentityOut] = []
    profile: dict[str, ProfileValue] = {}
    extra_fields: list[dict[str, Any]] = []
    orders: list[OrderOut] = []
    prescriptions: list[OrderOut] = []
    interactions: list[InteractionOut] = []
    consents: list[dict[str, Any]] = []
    links: list[LinkOut] = []


class CustomerList(BaseModel):
    customers: list[CustomerOut]
    truncated: bool = Field(
        False, description="more customers hold the identifier than were returned"
    )


def _identifier_types() -> list[JsonValue]:
    from cdp.identity.normalize import KNOWN_TYPES

    # a list of JSON values: it is the schema's ``enum``
    return list[JsonValue](sorted(KNOWN_TYPES))


class LookupQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Documented as the closed list it is; an unknown type is still answered 422
    # invalid_identifier_type by the service (a clearer message than a schema error).
    identifier_type: str = Field(
        ..., max_length=32, json_schema_extra={"enum": _identifier_types()}
    )
    value: str = Field(..., min_length=1, max_length=256)
    source: str | None = Field(None, max_length=64, description="for identifiers scoped by channel")


class BreakGlassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        ..., min_length=15, max_length=1000, description="why plain access is needed"
    )
    minutes: int = Field(30, ge=1, le=240)


class BreakGlassOut(BaseModel):
    grant_id: str
    customer_id: str
    expires_at: str
    categories: list[str]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other_customer_id: str = Field(..., min_length=1, max_length=32)
    reason: str = Field(..., min_length=5, max_length=1000)


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_ids: list[str] = Field(..., min_length=1, max_length=1000)
    reason: str = Field(..., min_length=5, max_length=1000)


class StewardOut(BaseModel):
    customer_id: str
    action: Literal["merge", "split"]

"""Request bodies of the data subject request API (validation and the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DsrKind = Literal[
    "access", "correction", "deletion", "restriction", "lift_restriction", "consent_withdrawal"
]


Purpose = Annotated[str, Field(min_length=1, max_length=64)]


class DsrCreateIn(BaseModel):
    # A consent withdrawal names the purposes withdrawn (said in the schema too).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"kind": {"const": "consent_withdrawal"}}, "required": ["kind"]},
            "then": {"required": ["purposes"], "properties": {"purposes": {"type": "array"}}},
        },
    )
    customer_id: str = Field(..., min_length=1, max_length=200)
    kind: DsrKind
    channel: str = Field("web", max_length=64, description="where the request came in")
    purposes: list[Purpose] | None = Field(
        None, min_length=1, max_length=20, description="for consent_withdrawal: the purposes"
    )


class PackageDownloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(..., min_length=20, max_length=128, description="the one-time token")
    format: Literal["json", "csv"] = "json"


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: str = Field("manual", max_length=64, description="how the identity was checked")


class RefuseIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: str = Field(..., min_length=1, max_length=2000, pattern=r"\S",
                        description="told to the person; stored redacted")


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    changes: dict[str, Any] | None = Field(
        None, description="for a correction: field -> new value, or identifiers: [{type, old, value}]"
    )

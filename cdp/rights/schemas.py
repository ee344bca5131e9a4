"""Request bodies of the data subject request API (validation and the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DsrKind = Literal[
    "access", "correction", "deletion", "restriction", "lift_restriction", "consent_withdrawal"
]


class DsrCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(..., min_length=1, max_length=200)
    kind: DsrKind
    channel: str = Field("web", max_length=64, description="where the request came in")
    purposes: list[str] | None = Field(
        None, min_length=1, max_length=20, description="for consent_withdrawal: the purposes"
    )


class PackageDownloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(..., min_length=20, max_length=128, description="the one-time token")
    format: Literal["json", "csv"] = "json"

"""Request and response models of the CRM API (they also make its OpenAPI schemas)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["delivery", "product_quality", "adverse_drug_reaction", "billing", "privacy",
                   "service"]
Priority = Literal["urgent", "high", "normal", "low"]
State = Literal["open", "acknowledged", "investigating", "resolved", "closed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SegmentOut(BaseModel):
    name: str
    description: str
    health: bool
    size: int | None
    suppressed: bool


class SegmentList(BaseModel):
    segments: list[SegmentOut]
    min_count: int


class FlowQuery(_Strict):
    since: date | None = None


class SegmentDetail(SegmentOut):
    entered: int | None
    left: int | None
    since: str


class MembersQuery(_Strict):
    limit: int = Field(default=100, ge=1, le=1000)
    after: str | None = Field(default=None, max_length=32)
    entered_since: date | None = None


class MemberOut(BaseModel):
    customer_id: str
    scores: dict[str, Any] | None = None


class MemberList(BaseModel):
    segment: str
    members: list[MemberOut]
    held_back: int
    next_after: str | None


class LimitQuery(_Strict):
    limit: int = Field(default=100, ge=1, le=1000)


class RetentionList(BaseModel):
    customers: list[dict[str, Any]]


class DaysQuery(_Strict):
    days: int = Field(default=7, ge=0, le=366)


class DueQuery(_Strict):
    due_within: int = Field(default=7, ge=0, le=366)


class ReminderList(BaseModel):
    reminders: list[dict[str, Any]]


class TaskQuery(_Strict):
    status: Literal["open", "done"] = "open"
    limit: int = Field(default=100, ge=1, le=1000)


class TaskList(BaseModel):
    tasks: list[dict[str, Any]]


class TaskDoneIn(_Strict):
    outcome: Literal["reached", "unreachable", "refill_ordered", "advice_given", "declined",
                     "referred"]


class LoyaltyOut(BaseModel):
    customer_id: str
    balance: int
    tier: str | None
    tier_until: str | None
    ledger: list[dict[str, Any]]


class RedeemIn(_Strict):
    points: int = Field(ge=1, le=10_000_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=40,
                                        pattern=r"^[A-Za-z0-9_\-]+$")


class AdrIn(_Strict):
    learned_on: date | None = None
    serious: bool = False
    new: bool = False
    death: bool = False


class ComplaintIn(_Strict):
    customer_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    category: Category
    priority: Priority | None = None
    channel: str = Field(default="api", min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=4000)
    adr: AdrIn | None = None
    open_dsr: bool = False


class TransitionIn(_Strict):
    to: State
    satisfaction: int | None = Field(default=None, ge=1, le=5)


class ComplaintQuery(_Strict):
    state: State | None = None
    customer_id: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=100, ge=1, le=1000)


class ComplaintOut(BaseModel):
    id: str
    customer_id: str
    category: str
    priority: str
    state: str
    sla: dict[str, Any]
    adr: dict[str, Any] | None = None


class ComplaintList(BaseModel):
    complaints: list[dict[str, Any]]


class MonthQuery(_Strict):
    # a calendar month from year 1000 on (0000-01 names no month)
    month: str = Field(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="allow")


class RefreshIn(_Strict):
    as_of: date | None = None

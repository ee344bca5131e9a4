"""CRM tables: computed profiles, segment membership, model fits, the loyalty ledger,
complaints and care tasks.

What a profile holds about a person (drug classes, adherence, refills, birth day, place) is
one AES-GCM blob under the customer's data key (``traits_ct``); in clear are only the scores
queries sort and filter on (RFM quintiles, probability alive, value), the date of the next
refill, and segment names with entry and exit times. Ledger references, task keys and order
references are keyed hashes, never order ids.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, new_id, utcnow


class CrmProfile(Base):
    """One customer's computed traits as of the last refresh."""

    __tablename__ = "crm_profiles"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data_key_id: Mapped[str] = mapped_column(ForeignKey("data_keys.id"))
    traits_ct: Mapped[bytes] = mapped_column(LargeBinary)
    r_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    f_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    m_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    p_alive: Mapped[float | None] = mapped_column(Float, nullable=True)
    clv_12m: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the customer objects to profiling (newest `profiling` consent withdrawn): no scores
    profiling_objection: Mapped[bool] = mapped_column(Boolean, default=False)
    next_refill_due: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)


class SegmentMember(Base):
    """A stay of a customer in a segment: open while ``left_at`` is NULL."""

    __tablename__ = "crm_segment_members"
    __table_args__ = (
        Index("ix_crm_segment_members_segment_left_at", "segment", "left_at"),
        Index("ix_crm_segment_members_segment_entered_at", "segment", "entered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    segment: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ModelFit(Base):
    """A fitted model's parameters (BG/NBD, Gamma-Gamma) at one refresh: no personal data."""

    __tablename__ = "crm_model_fits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customers: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)


class LoyaltyEntry(Base):
    """One line of the append-only points ledger. The balance is the sum of ``points``.

    kinds: accrual (an order), adjustment (a corrected order), redemption, expiry.
    ``ref`` makes an entry idempotent: one accrual per order reference, one expiry per lot.
    """

    __tablename__ = "crm_loyalty_entries"
    __table_args__ = (Index("ix_crm_loyalty_entries_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # keyed hash of the order (accrual, adjustment) or "expiry:<lot id>"; unique when set
    ref: Mapped[str | None] = mapped_column(String(80), nullable=True, unique=True)
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lot_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyAccount(Base):
    """A customer's member tier and until when it is held."""

    __tablename__ = "crm_loyalty_accounts"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32))
    tier_since: Mapped[date] = mapped_column(Date)
    tier_until: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Complaint(Base):
    """A complaint ticket (from a `complaint` interaction or opened through the API)."""

    __tablename__ = "crm_complaints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    interaction_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    origin: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32), index=True)
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # adverse drug reaction: the day the pharmacy learned of it and the reporting deadline
    adr_learned_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    adr_serious: Mapped[bool] = mapped_column(Boolean, default=False)
    adr_new: Mapped[bool] = mapped_column(Boolean, default=False)
    adr_death: Mapped[bool] = mapped_column(Boolean, default=False)
    regulatory_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dsr_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    data_key_id: Mapped[str | None] = mapped_column(ForeignKey("data_keys.id"), nullable=True)
    # what the customer said, opened through the API (interaction texts stay in interactions)
    description_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ComplaintEvent(Base):
    """A state change of a complaint (who, when, from, to)."""

    __tablename__ = "crm_complaint_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("crm_complaints.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))


class CareTask(Base):
    """A care-team task: follow up a new chronic patient, a low adherence, a complaint."""

    __tablename__ = "crm_care_tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # keyed hash of what the task is about: one task per patient, kind and subject
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    data_key_id: Mapped[str | None] = mapped_column(ForeignKey("data_keys.id"), nullable=True)
    # the drug class (health) or complaint the task is about, encrypted
    detail_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def table(model: type[Base]) -> Table:
    """The Core table of a mapped class (typed: ``__table__`` is a FromClause to mypy)."""
    t = model.__table__
    if not isinstance(t, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return t

"""Data subject requests and the prescription records kept after an erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, new_id, utcnow


class DsrRequest(Base):
    """A data subject request and where it stands. ``detail`` holds field names and
    purposes, never values (corrections are applied, not stored here)."""

    __tablename__ = "dsr_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    # access | correction | deletion | restriction | lift_restriction | consent_withdrawal
    kind: Mapped[str] = mapped_column(String(32))
    # received | verified | in_progress | completed | refused
    status: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    channel: Mapped[str] = mapped_column(String(64), default="web")
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RetainedRecord(Base):
    """What the law makes the pharmacy keep after an erasure (``reason``): prescription-drug
    sales with their buyer, adverse drug reaction reports (written by the CRM's erasure hook).

    The payload is re-encrypted under a data key of its own (wrapped by the keyring's KEK,
    associated data binds it to this row), so shredding the customer's keys leaves it
    readable to compliance roles only, and purging it is deleting this row.
    """

    __tablename__ = "retained_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32), default="health")
    reason: Mapped[str] = mapped_column(String(64), default="rx_record_retention")
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    keep_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

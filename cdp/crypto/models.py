"""Per-customer data keys (envelope encryption)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, new_id, utcnow


class DataKey(Base):
    """A 256-bit data key wrapped by a versioned key-encryption key.

    ``customer_id`` names the customer who owns the key now. A merge hands the absorbed
    customer's keys to the survivor, so inherited values stay readable without re-encryption;
    erasure destroys every key a customer owns (``wrapped`` becomes NULL).
    """

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

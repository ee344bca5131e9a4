"""Customers, source records, identifiers and the lineage of every link.

No column here holds personal data in plaintext: values live in ``*_ct`` columns
(AES-256-GCM under the owning customer's data key, associated data = table|column|row id),
and equality search uses ``bidx`` blind indexes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    null,
)
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, new_id, utcnow


class Customer(Base):
    """One person, as the platform understands them now."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # active | merged (absorbed into merged_into) | erased | restricted
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    # The matching evidence of the customer's records as of ``updated_at``, encrypted under
    # data key ``evidence_key_id`` (cdp.identity.summary). Only ingest's writer sets it; every
    # other UPDATE of the row sets it to NULL (``onupdate``), so a change made anywhere else
    # can never leave an outdated summary behind. Deferred: only ingest reads it.
    evidence_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, onupdate=null(),
                                                      deferred=True)
    evidence_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True,
                                                        onupdate=null(), deferred=True)


class SourceRecord(Base):
    """A channel record as received, encrypted, and the customer it belongs to now."""

    __tablename__ = "source_records"
    __table_args__ = (
        UniqueConstraint("source", "source_record_id"),
        # the target of the rows derived from a record (see ``_of_its_record``); an index, not
        # a constraint, so SQLite adds it without rebuilding the table
        Index("ux_source_records_id_customer_id", "id", "customer_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(64))
    source_record_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    data_key_id: Mapped[str] = mapped_column(ForeignKey("data_keys.id"))
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Keyed hash of the canonical record: re-ingesting identical content is a no-op.
    content_hmac: Mapped[str] = mapped_column(String(64))
    profile_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    orders_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    extra_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Categories of the undeclared fields (names only live inside extra_ct).
    extra_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    has_rx: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def _of_its_record() -> ForeignKeyConstraint:
    """Rows derived from a source record belong to the record's customer: one foreign key
    on (record_id, customer_id) says so, and a merge or split that moves the record moves
    them with it (ON UPDATE CASCADE). The customer exists because the record's own
    customer_id is a foreign key; one check per inserted row instead of two (the foreign-key
    checks were a third of PostgreSQL's time in a bulk ingest)."""
    return ForeignKeyConstraint(
        ["record_id", "customer_id"], ["source_records.id", "source_records.customer_id"],
        ondelete="CASCADE", onupdate="CASCADE",
    )


class Identifier(Base):
    """One identifier value of a source record: encrypted value plus blind index."""

    __tablename__ = "identifiers"
    __table_args__ = (Index("ix_identifiers_type_bidx", "type", "bidx"), _of_its_record())

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[str] = mapped_column(String(32))
    # valid | masked | invalid | placeholder | unknown_type
    status: Mapped[str] = mapped_column(String(16))
    bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    value_ct: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_id: Mapped[str] = mapped_column(ForeignKey("data_keys.id"))


class MatchKey(Base):
    """Blind-indexed weak evidence used for blocking and probabilistic scoring.

    Kinds: the masked-phone prefix+suffix, the name (simplified; its pinyin; Latin name
    tokens), the birth date and the address; each kind has its own derived index key.
    """

    __tablename__ = "match_keys"
    # covering: the blocking lookup reads the distinct holders of a value from the index alone
    __table_args__ = (Index("ix_match_keys_kind_bidx_customer_id", "kind", "bidx", "customer_id"),
                      _of_its_record())

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    bidx: Mapped[str] = mapped_column(String(64))


class IdentityLink(Base):
    """Why a source record belongs (or belonged) to a customer: rule and evidence kinds.

    Never holds values. ``ended_at`` is set when a merge or split moves the record on, so
    the full history of every record's membership is kept.
    """

    __tablename__ = "identity_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LineageEvent(Base):
    """A customer-level event: created, merged, split, erased."""

    __tablename__ = "lineage_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    other_customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True)
    record_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Interaction(Base):
    """A free-text interaction: redacted text for everyday reads, original encrypted."""

    __tablename__ = "interactions"
    __table_args__ = (_of_its_record(),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    data_key_id: Mapped[str] = mapped_column(ForeignKey("data_keys.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Redacted text is encrypted too: redaction can miss, and a miss must not reach disk in clear.
    text_redacted_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    text_ct: Mapped[bytes] = mapped_column(LargeBinary)
    entity_types: Mapped[list[str]] = mapped_column(JSON, default=list)


class Consent(Base):
    """A consent decision as received; the newest decision per purpose wins."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_customer_purpose", "customer_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    record_id: Mapped[str | None] = mapped_column(
        ForeignKey("source_records.id", ondelete="SET NULL"), nullable=True, index=True
    )
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def as_dict(row: Any) -> dict[str, Any]:
    """Column values of a model row (for tests and debugging, never for logs)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}

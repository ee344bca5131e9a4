"""The audit table. Inserts only: the database refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(Base):
    """One audit entry. On PostgreSQL the table is partitioned by month on ``at`` (migration
    0012): there its key is (id, at) and (chain, seq) a plain index, as a partitioned table's
    unique constraints must hold the partition key; SQLite keeps the definition below."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_customer_at", "customer_id", "at"),
        Index("ix_audit_events_actor_at", "actor", "at"),
        # One hash chain per stripe: (chain, seq) is the entry's position in its chain.
        UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    view: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))  # not indexed: see migration 0009
    # Writers append to one of several chains (cdp/audit/log.py) so they do not all queue
    # behind a single chain head; each chain is verified on its own.
    chain: Mapped[int] = mapped_column(SmallInteger)
    seq: Mapped[int] = mapped_column(BigId)


class AuditChainHead(Base):
    """The last entry of each chain, so a writer reads and locks its chain head in one
    statement (``SELECT ... FOR UPDATE SKIP LOCKED``) instead of searching the log.

    Not part of the evidence: the verifier never reads it. On PostgreSQL a trigger on
    ``audit_events`` keeps it current and refuses an entry that does not extend its chain's
    head (wrong seq or prev_hash); a tampered head can only make appends fail, never hide
    anything. SQLite (one writer at a time, one chain) reads the head from the log itself.
    """

    __tablename__ = "audit_chain_heads"

    chain: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigId)
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement of every chain's head at one moment (Ed25519, keyring signing key).

    Inserts only, like the log. A verifier holding the public key and any checkpoint can
    prove that nothing up to those heads changed afterwards, and that no tail was cut.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # {"<chain>": [seq, entry_hash]} for every chain with entries.
    heads: Mapped[dict[str, Any]] = mapped_column(JSON)
    entry_count: Mapped[int] = mapped_column(BigId)
    # The exact signed bytes (canonical JSON) and the signature over them.
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[str] = mapped_column(String(64))


class AuditSegment(Base):
    """An archived stretch of the log (``cdp audit archive``): the signed statement of a
    segment file whose entries left the database.

    ``ends`` is every chain's last archived (seq, entry_hash), cumulative over all segments
    so far: the live log's chains must continue from there. Inserts only, like the log.
    """

    __tablename__ = "audit_segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Entries with ``at`` before this moment were archived (a month's first instant, UTC).
    before: Mapped[datetime] = mapped_column(UTCDateTime)
    file_name: Mapped[str] = mapped_column(String(255))
    entry_count: Mapped[int] = mapped_column(BigInteger)
    # {"<chain>": [seq, entry_hash]}
    ends: Mapped[dict[str, Any]] = mapped_column(JSON)
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


_PARTITION = re.compile(r"audit_events_(legacy|default|\d{4}_\d{2})")


def schema_compare_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic ``include_object`` for comparing these models with a database migrated on
    ``dialect``. Leaves out what the models cannot describe on PostgreSQL: the month
    partitions of ``audit_events`` (separate tables to the reflection) with their indexes,
    and the (chain, seq) pair, a unique constraint on SQLite and a plain index on the
    partitioned table (migration 0012)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if dialect != "postgresql":
            return True
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        if table and _PARTITION.fullmatch(table):
            return False
        return name not in ("uq_audit_events_chain_seq", "ix_audit_events_chain_seq")

    return include

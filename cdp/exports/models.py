"""Export run records: what was exported, for whom, when, and where the files are."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, new_id, utcnow


class ExportRun(Base):
    """One run of an export profile. Holds counts and file names, never personal values."""

    __tablename__ = "export_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    profile: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    # full | incremental
    mode: Mapped[str] = mapped_column(String(16))
    # running | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Changes up to this instant are covered; the next incremental run starts from here.
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    k_reached: Mapped[int | None] = mapped_column(Integer, nullable=True)
    directory: Mapped[str | None] = mapped_column(Text, nullable=True)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

"""The retention job: delete or anonymise what has outlived its purpose, and audit it."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, or_, select

from cdp.audit.log import AuditEntry, record
from cdp.db import utcnow
from cdp.db.results import affected_rows
from cdp.exports.models import ExportRun
from cdp.identity.models import Customer, Interaction, SourceRecord
from cdp.platform import Platform
from cdp.rights import hooks
from cdp.rights.erasure import erase_customer
from cdp.rights.models import RetainedRecord
from cdp.rights.policy import load_retention

ERASE_BATCH = 50


def run_retention(platform: Platform, *, actor: str = "scheduler",
                  now: datetime | None = None) -> dict[str, Any]:
    """Apply policies/retention.toml once. Returns counts per rule; each rule is audited."""
    policy = load_retention(platform.policies)
    now = now or utcnow()
    out: dict[str, Any] = {}

    with platform.transaction() as session:
        n = affected_rows(session.execute(delete(RetainedRecord).where(RetainedRecord.keep_until < now)))
        out["retained_records_purged"] = n
        record(session, AuditEntry(actor=actor, action="retention.purge_retained",
                                   categories=["health"], detail={"deleted": n}))

    if policy.free_text_keep is not None:
        with platform.transaction() as session:
            old = Interaction.at < now - policy.free_text_keep
            # e.g. the text of an adverse drug reaction report, kept longer
            held = [hold(session, platform, now) for hold in hooks.INTERACTION_HOLDS.values()]
            # an interaction two holds keep is one interaction kept, not two
            n_held = int(session.scalar(select(func.count()).select_from(Interaction).where(
                old, or_(*(Interaction.id.in_(h) for h in held)))) or 0) if held else 0
            n = affected_rows(session.execute(delete(Interaction).where(
                old, *(Interaction.id.not_in(h) for h in held))))
            out["interactions_deleted"] = n
            out["interactions_held"] = n_held
            record(session, AuditEntry(actor=actor, action="retention.delete_interactions",
                                       categories=["free_text"],
                                       detail={"deleted": n, "held": n_held,
                                               "older_than_days": policy.free_text_keep.days}))

    if policy.inactive_keep is not None:
        cutoff = now - policy.inactive_keep
        erased = 0
        while True:
            with platform.transaction() as session:
                recent = exists().where(
                    SourceRecord.customer_id == Customer.id,
                    func.coalesce(SourceRecord.observed_at, SourceRecord.updated_at) >= cutoff)
                ids = list(session.scalars(
                    select(Customer.id).where(Customer.status.in_(("active", "restricted")),
                                              Customer.created_at < cutoff, ~recent)
                    .order_by(Customer.id).limit(ERASE_BATCH)))
                for cid in ids:
                    res = erase_customer(session, platform, cid, rx_keep=policy.rx_keep, actor=actor,
                                         reason="retention: inactive", now=now)
                    record(session, AuditEntry(
                        actor=actor, action="retention.erase_inactive", customer_id=cid,
                        categories=["identity", "contact", "purchase", "health"],
                        detail={"records_deleted": res.records_deleted, "retained": res.retained}))
                erased += len(ids)
            if len(ids) < ERASE_BATCH:
                break
        out["customers_erased"] = erased

    if policy.exports_keep is not None:
        with platform.transaction() as session:
            runs = list(session.scalars(select(ExportRun).where(
                ExportRun.status == "succeeded", ExportRun.finished_at < now - policy.exports_keep)))
            for r in runs:
                if r.directory:
                    shutil.rmtree(Path(r.directory), ignore_errors=True)
                r.status = "expired"
            out["export_runs_expired"] = len(runs)
            record(session, AuditEntry(actor=actor, action="retention.expire_exports",
                                       detail={"runs": len(runs)}))
    return out

"""The access package (PIPL arts. 45, 47): everything held about a person, decrypted, with
the channels it came from and who accessed it, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.models import AuditEvent
from cdp.db import utcnow
from cdp.platform import Platform
from cdp.rights import hooks

CSV_HEADER = ["section", "path", "value", "source", "source_record_id", "observed_at", "category"]


def accesses(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """Who touched the customer's data, when, why and with what outcome (from the audit log)."""
    rows = session.scalars(select(AuditEvent).where(AuditEvent.customer_id == customer_id)
                           .order_by(AuditEvent.id))
    return [{"at": r.at.isoformat(), "actor": r.actor, "role": r.role, "purpose": r.purpose,
             "action": r.action, "decision": r.decision, "categories": list(r.categories or [])}
            for r in rows]


def build_package(session: Session, platform: Platform, customer_id: str) -> dict[str, Any]:
    """The complete package for ``customer_id`` (the caller audits the act)."""
    from cdp.identity.view import assemble_customer

    view = assemble_customer(session, platform, customer_id)
    channels: dict[str, int] = {}
    for ident in view.get("identities", []):
        channels[ident["source"]] = channels.get(ident["source"], 0) + 1
    package = {
        "generated_at": utcnow().isoformat(),
        "customer_id": customer_id,
        "channels": [{"source": s, "records": n} for s, n in sorted(channels.items())],
        "data": view,
        "accesses": accesses(session, customer_id),
    }
    # sections of the capabilities above (the CRM's), registered by the assembly
    for name, (section, _) in hooks.PACKAGE_SECTIONS.items():
        value = section(session, platform, customer_id)
        if value is not None and name not in package:
            package[name] = value
    return package


def _walk(section: str, path: str, node: Any, ctx: dict[str, Any]) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        ctx = {**ctx, **{k: node[k] for k in ("source", "source_record_id", "observed_at", "category")
                         if k in node and not isinstance(node[k], dict | list)}}
        for k, v in node.items():
            if k in ("source", "source_record_id", "observed_at", "category"):
                continue
            yield from _walk(section, f"{path}.{k}" if path else k, v, ctx)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(section, f"{path}[{i}]", v, ctx)
    else:
        yield [section, path, "" if node is None else node, ctx.get("source", ""),
               ctx.get("source_record_id", ""), ctx.get("observed_at", "") or "",
               ctx.get("category", "")]


def package_csv(package: dict[str, Any]) -> str:
    """One CSV row per leaf value: section, path, value and where it came from."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    added = [name for name in hooks.PACKAGE_SECTIONS if name in package]
    for section in ("channels", "data", "accesses", *added):
        for row in _walk(section, "", package[section], {}):
            w.writerow(row)
    return buf.getvalue()

"""The assembly's wiring of capabilities into the lower layers they extend.

A lower layer never imports a higher one (.importlinter): the customer view (access), merge
and split (identity), the access package, erasure and the free-text retention (rights)
call what the CRM registers here. ``install`` runs in every entry point (the app factory,
the command line); the CRM is imported when a hook first runs, so a command that never
merges or reads pays nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


def _crm_section(session: Session, platform: Any, customer_id: str, **kw: Any) -> dict[str, Any] | None:
    from cdp.crm.view import crm_section

    return crm_section(session, platform, customer_id, **kw)


def _crm_merge(session: Session, platform: Any, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
    from cdp.crm.lifecycle import on_merge

    on_merge(session, platform, pairs, now)


def _crm_split(session: Session, platform: Any, source: str, new: str, record_ids: Sequence[str],
               now: datetime) -> None:
    from cdp.crm.lifecycle import on_split

    on_split(session, platform, source, new, record_ids, now)


def _crm_package(session: Session, platform: Any, customer_id: str) -> Any:
    from cdp.crm.lifecycle import package_section

    return package_section(session, platform, customer_id)


def _crm_erase(session: Session, platform: Any, customer_ids: Sequence[str], now: datetime) -> dict[str, int]:
    from cdp.crm.lifecycle import erase

    return erase(session, platform, customer_ids, now)


def _crm_adr_held(session: Session, platform: Any, now: datetime) -> Any:
    from cdp.crm.lifecycle import adr_interactions_held

    return adr_interactions_held(session, platform, now)


def install() -> None:
    """Register every extension (idempotent: each is added under its name)."""
    from cdp.access.service import add_view_section
    from cdp.identity.hooks import add_merge_hook, add_split_hook
    from cdp.rights.hooks import add_erasure_hook, add_interaction_hold, add_package_section

    add_view_section("crm", _crm_section)
    add_merge_hook("crm", _crm_merge)
    add_split_hook("crm", _crm_split)
    add_package_section("crm", _crm_package, ("crm_scores", "health", "loyalty", "complaints"))
    add_erasure_hook("crm", _crm_erase)
    add_interaction_hold("crm_adr_reports", _crm_adr_held)

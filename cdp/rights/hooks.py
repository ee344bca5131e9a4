"""What capabilities built on rights add to an access package, do on erasure, and hold
back from the retention job.

Rights is a lower layer than the capabilities that keep rows of their own per customer (the
CRM): it cannot import them. They register here, through the assembly (``cdp.extensions``):
a package section is added to every access package under its name, and every erasure runs
the erasure hooks in its transaction, with the erased customer and those merged into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


class PackageSection(Protocol):
    def __call__(self, session: Session, platform: Any, customer_id: str) -> Any:
        """What the capability holds about ``customer_id`` (JSON-able), or None."""


class ErasureHook(Protocol):
    def __call__(self, session: Session, platform: Any, customer_ids: Sequence[str],
                 now: datetime) -> dict[str, int]:
        """Delete the capability's rows of ``customer_ids``; rows deleted per table."""


class InteractionHold(Protocol):
    def __call__(self, session: Session, platform: Any, now: datetime) -> Any:
        """A SELECT of the ids of interactions the capability must keep past the free-text
        retention (a legal duty of its own), as of ``now``. No NULLs: the job deletes what
        is NOT IN it."""


# name -> (section, the data categories it may hold: named in the package's audit entry)
PACKAGE_SECTIONS: dict[str, tuple[PackageSection, tuple[str, ...]]] = {}
ERASURE_HOOKS: dict[str, ErasureHook] = {}
INTERACTION_HOLDS: dict[str, InteractionHold] = {}


def add_package_section(name: str, section: PackageSection, categories: Sequence[str]) -> None:
    """Add (or replace) the access package section ``name``."""
    PACKAGE_SECTIONS[name] = (section, tuple(categories))


def section_categories(package: dict[str, Any]) -> tuple[str, ...]:
    """The categories of the added sections ``package`` holds."""
    return tuple(c for name, (_, cats) in PACKAGE_SECTIONS.items() if name in package for c in cats)


def add_erasure_hook(name: str, hook: ErasureHook) -> None:
    """Add (or replace) the erasure hook ``name``."""
    ERASURE_HOOKS[name] = hook


def add_interaction_hold(name: str, hold: InteractionHold) -> None:
    """Add (or replace) the retention hold ``name`` on interactions."""
    INTERACTION_HOLDS[name] = hold

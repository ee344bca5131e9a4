"""What capabilities built on identity do when customers are merged or split.

Identity is a lower layer than the capabilities that keep rows per customer (the CRM's
loyalty ledger, complaints, segments): it cannot import them. They register here instead,
through the assembly (``cdp.extensions``), and every merge and split runs the hooks in its
own transaction, after identity's own rows have moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


class MergeHook(Protocol):
    def __call__(self, session: Session, platform: Any, pairs: Sequence[tuple[str, str]],
                 now: datetime) -> None:
        """``pairs``: (absorbed customer, final survivor) of every stored customer merged."""


class SplitHook(Protocol):
    def __call__(self, session: Session, platform: Any, source: str, new: str,
                 record_ids: Sequence[str], now: datetime) -> None:
        """Records ``record_ids`` moved from customer ``source`` to the new customer ``new``."""


MERGE_HOOKS: dict[str, MergeHook] = {}
SPLIT_HOOKS: dict[str, SplitHook] = {}


def add_merge_hook(name: str, hook: MergeHook) -> None:
    """Add (or replace) the merge hook ``name``."""
    MERGE_HOOKS[name] = hook


def add_split_hook(name: str, hook: SplitHook) -> None:
    """Add (or replace) the split hook ``name``."""
    SPLIT_HOOKS[name] = hook


def merged(session: Session, platform: Any, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
    if pairs:
        for hook in MERGE_HOOKS.values():
            hook(session, platform, pairs, now)


def split(session: Session, platform: Any, source: str, new: str, record_ids: Sequence[str],
          now: datetime) -> None:
    for hook in SPLIT_HOOKS.values():
        hook(session, platform, source, new, record_ids, now)

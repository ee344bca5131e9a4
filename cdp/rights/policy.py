"""Retention rules and DSR deadlines from ``policies/retention.toml``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cdp.errors import ValidationError
from cdp.policyfiles import PolicyFiles

FILE = "retention.toml"


@dataclass(frozen=True)
class RetentionPolicy:
    dsr_deadline: timedelta = timedelta(days=15)
    rx_keep: timedelta = timedelta(days=1827)
    # adverse drug reaction reports (complaint tickets) kept past an erasure, from the day the
    # pharmacy learned of the reaction
    adr_keep: timedelta = timedelta(days=1827)
    free_text_keep: timedelta | None = timedelta(days=1095)
    inactive_keep: timedelta | None = timedelta(days=1827)
    exports_keep: timedelta | None = timedelta(days=90)
    # Kinds of data subject request whose execution needs a second person's approval.
    four_eyes: frozenset[str] = frozenset({"access", "deletion"})
    # How long an access package waits for its one download.
    package_expiry: timedelta = timedelta(days=7)


def _days(section: dict, key: str = "keep_days") -> timedelta | None:
    v = section.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or v < 1:
        raise ValidationError(f"retention policy: {key} must be a positive number of days")
    return timedelta(days=v)


def load_retention(policies: PolicyFiles) -> RetentionPolicy:
    """The rules in ``retention.toml`` of ``policies`` (defaults when the file is absent;
    re-read when it changes)."""
    return policies.load("retention", _build)


def _build(files: PolicyFiles) -> RetentionPolicy:
    if not files.exists(FILE):
        return RetentionPolicy()
    return parse_retention(files.document(FILE))


def parse_retention(data: dict) -> RetentionPolicy:
    """Validate retention.toml's content; ValidationError naming the bad key."""
    cats = data.get("categories", {})
    base = RetentionPolicy()
    dsr = data.get("dsr", {})
    four_eyes = dsr.get("four_eyes", sorted(base.four_eyes))
    if not isinstance(four_eyes, list) or not all(isinstance(k, str) for k in four_eyes):
        raise ValidationError("retention policy: [dsr] four_eyes must be a list of request kinds")
    return RetentionPolicy(
        four_eyes=frozenset(four_eyes),
        package_expiry=_days(dsr, "package_expiry_days") or base.package_expiry,
        dsr_deadline=_days(data.get("dsr", {}), "deadline_days") or base.dsr_deadline,
        rx_keep=_days(cats.get("health", {})) or base.rx_keep,
        adr_keep=_days(cats.get("health", {}), "adr_keep_days") or base.adr_keep,
        free_text_keep=_days(cats.get("free_text", {})),
        inactive_keep=_days(cats.get("identity", {})),
        exports_keep=_days(data.get("exports", {})),
    )

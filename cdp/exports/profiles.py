"""Export profiles: one TOML file per profile in ``policies/exports/``, validated on load.

A profile names its recipient (the API key name of the downstream system), the purpose its
consent must cover, the formats, the schedule, k and the quasi-identifiers, and a transform
for every field. Direct identifiers can only be dropped or pseudonymised: a profile that
would ship one in clear is refused when loaded, not discovered in a file later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp.errors import NotFound, ValidationError
from cdp.policyfiles import PolicyFileError, PolicyFiles

PURPOSES = {
    "customer_support",
    "pharmacy_care",
    "marketing",
    "analytics",
    "compliance_audit",
    "data_subject_request",
    "research",
}
# The consent purposes records carry (docs/records.md): a profile's consent gates name these.
# `research`: separate consent to hand pseudonymised data to a research partner (a third
# party, PIPL art. 23).
CONSENT_PURPOSES = {"marketing", "marketing_health", "care_reminders", "profiling", "research"}
FORMATS = ("csv", "jsonl", "parquet")
MODES = ("full", "incremental")

# Source fields of the flattened customer row (cdp.exports.rows), and whether each one
# points at a person on its own.
DIRECT_IDENTIFIERS = {
    "customer_id",
    "name",
    "phone",
    "email",
    "national_id",
    "passport",
    "member_id",
    "platform_user_id",
    "wechat_openid",
    "wechat_unionid",
    "device_id",
    "address",
}
SOURCE_FIELDS = DIRECT_IDENTIFIERS | {
    "gender",
    "birth_date",
    "channels",
    "order_count",
    "rx_order_count",
    "total_spend",
    "first_order_at",
    "last_order_at",
    "interaction_count",
    "interaction_text",
    "consented_purposes",
    "created_at",
}
FREE_TEXT = {"interaction_text"}
# Sensitive personal information (PIPL art. 28): only with a separate consent.
HEALTH = {"rx_order_count"}
TIMESTAMPS = {"first_order_at", "last_order_at", "created_at"}
DATES = TIMESTAMPS | {"birth_date"}

# transform -> source fields it may apply to (None = any)
TRANSFORMS: dict[str, set[str] | None] = {
    "drop": None,
    "keep": SOURCE_FIELDS - DIRECT_IDENTIFIERS - FREE_TEXT,
    "pseudonym": None,
    "age_band": {"birth_date"},
    "region": {"address"},
    "month": DATES,
    "mask": SOURCE_FIELDS - DIRECT_IDENTIFIERS - FREE_TEXT,
    "redact": FREE_TEXT,
    "date_shift": DATES,
    "bucket": {"order_count", "rx_order_count", "total_spend", "interaction_count"},
}
# Transforms that can be generalised further when k is not reached (quasi-identifiers).
GENERALISABLE = {"age_band", "region", "month", "keep", "bucket"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    source: str
    transform: str
    quasi_identifier: bool = False
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    recipient: str
    purpose: str
    fields: tuple[FieldSpec, ...]
    formats: tuple[str, ...] = ("csv",)
    k: int = 5
    max_suppression: float = 0.05
    schedule: str | None = None
    schedule_mode: str = "incremental"
    description: str = ""
    # The consent a customer must have granted (newest decision wins); None: no consent gate.
    consent_purpose: str | None = None
    # A second, separate consent required when the profile carries health data.
    health_consent_purpose: str | None = None
    # Customers whose newest decision on this purpose is a withdrawal are left out (an
    # objection to profiling, PIPL art. 24); None: no objection gate.
    objection_purpose: str | None = "profiling"

    @property
    def consent_purposes(self) -> tuple[str, ...]:
        """The consents a customer must have granted to be in the export."""
        return tuple(p for p in (self.consent_purpose, self.health_consent_purpose) if p)

    @property
    def output_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.transform != "drop"]

    @property
    def quasi_identifiers(self) -> list[FieldSpec]:
        return [f for f in self.output_fields if f.quasi_identifier]

    @property
    def pseudonym_scope(self) -> str:
        # One key per recipient: stable across that recipient's runs and profiles,
        # unlinkable across recipients.
        return f"export/{self.recipient}"


def _fail(profile: str, message: str) -> ValidationError:
    return ValidationError(f"export profile {profile!r}: {message}", code="invalid_profile")


def parse_profile(name: str, data: dict[str, Any]) -> Profile:
    """Validate one profile's TOML data; ValidationError naming the first problem."""
    if not NAME_RE.match(name):
        raise _fail(name, "name must be lower-case letters, digits and _")
    recipient = data.get("recipient")
    if not isinstance(recipient, str) or not NAME_RE.match(recipient):
        raise _fail(name, "recipient must be a lower-case name (the API key name)")
    purpose = data.get("purpose")
    if purpose not in PURPOSES:
        raise _fail(name, f"purpose must be one of {sorted(PURPOSES)}")
    # Marketing needs the customer's marketing consent whatever the file says; other purposes
    # name their consent gate, if any, explicitly.
    consent_purpose = data.get("consent_purpose", "marketing" if purpose == "marketing" else None)
    if consent_purpose is not None and consent_purpose not in CONSENT_PURPOSES:
        raise _fail(name, f"consent_purpose must be one of {sorted(CONSENT_PURPOSES)} "
                    "(the consents records carry)")
    if purpose == "marketing" and consent_purpose != "marketing":
        raise _fail(name, "a marketing export needs consent_purpose = \"marketing\"")
    objection = data.get("objection_purpose", "profiling")
    if objection == "":
        objection = None
    if objection is not None and objection not in CONSENT_PURPOSES:
        raise _fail(name, f"objection_purpose must be one of {sorted(CONSENT_PURPOSES)} or \"\"")
    formats = tuple(data.get("formats", ["csv"]))
    if not formats or any(f not in FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise _fail(name, f"formats must be distinct values of {list(FORMATS)}")
    k = data.get("k", 5)
    if not isinstance(k, int) or k < 1:
        raise _fail(name, "k must be a positive integer")
    max_sup = data.get("max_suppression", 0.05)
    if not isinstance(max_sup, int | float) or not 0 <= max_sup <= 1:
        raise _fail(name, "max_suppression must be within [0, 1]")
    schedule = data.get("schedule")
    if schedule is not None:
        from cdp.cron import parse_cron

        try:
            parse_cron(schedule)
        except ValueError:
            raise _fail(name, "schedule is not a valid cron expression") from None
    schedule_mode = data.get("schedule_mode", "incremental")
    if schedule_mode not in MODES:
        raise _fail(name, f"schedule_mode must be one of {list(MODES)}")

    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise _fail(name, "declare at least one [[fields]] entry")
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_fields):
        if not isinstance(raw, dict):
            raise _fail(name, f"field #{i + 1} is not a table")
        source = raw.get("source")
        if source not in SOURCE_FIELDS:
            raise _fail(name, f"field #{i + 1}: unknown source field")
        transform = raw.get("transform")
        if transform not in TRANSFORMS:
            raise _fail(name, f"field #{i + 1} ({source}): unknown transform")
        allowed = TRANSFORMS[transform]
        if allowed is not None and source not in allowed:
            raise _fail(name, f"field #{i + 1} ({source}): transform {transform} not allowed here")
        out = raw.get("name", source)
        if not isinstance(out, str) or not NAME_RE.match(out):
            raise _fail(name, f"field #{i + 1}: bad output name")
        if transform != "drop":
            if out in seen:
                raise _fail(name, f"field #{i + 1}: duplicate output name")
            seen.add(out)
        qi = bool(raw.get("quasi_identifier", False))
        if qi and transform not in GENERALISABLE:
            raise _fail(name, f"field #{i + 1} ({source}): a quasi-identifier needs a "
                        f"generalisable transform ({sorted(GENERALISABLE)})")
        params = {k_: v for k_, v in raw.items()
                  if k_ not in ("name", "source", "transform", "quasi_identifier")}
        _check_params(name, i, transform, params)
        specs.append(FieldSpec(out, source, transform, qi, params))
    if not any(s.transform != "drop" for s in specs):
        raise _fail(name, "every field is dropped")
    health_consent = data.get("health_consent_purpose")
    if health_consent is not None and health_consent not in CONSENT_PURPOSES:
        raise _fail(name, f"health_consent_purpose must be one of {sorted(CONSENT_PURPOSES)}")
    if any(s.source in HEALTH and s.transform != "drop" for s in specs) and not health_consent:
        raise _fail(name, "health data (sensitive personal information) needs a separate "
                    "consent: set health_consent_purpose")
    return Profile(
        name=name,
        recipient=recipient,
        purpose=purpose,
        fields=tuple(specs),
        formats=formats,
        k=k,
        max_suppression=float(max_sup),
        schedule=schedule,
        schedule_mode=schedule_mode,
        description=str(data.get("description", "")),
        consent_purpose=consent_purpose,
        health_consent_purpose=health_consent,
        objection_purpose=objection,
    )


def _check_params(profile: str, i: int, transform: str, params: dict[str, Any]) -> None:
    def positive_int(key: str, default: int) -> None:
        v = params.get(key, default)
        if not isinstance(v, int) or v < 0:
            raise _fail(profile, f"field #{i + 1}: {key} must be a non-negative integer")

    if transform == "age_band":
        positive_int("band", 10)
        if params.get("band", 10) < 1:
            raise _fail(profile, f"field #{i + 1}: band must be at least 1")
    elif transform == "region":
        if params.get("level", "city") not in ("city", "province"):
            raise _fail(profile, f"field #{i + 1}: level must be city or province")
    elif transform == "mask":
        positive_int("keep_first", 0)
        positive_int("keep_last", 0)
    elif transform == "date_shift":
        positive_int("max_days", 30)
        if params.get("max_days", 30) < 1:
            raise _fail(profile, f"field #{i + 1}: max_days must be at least 1")
    elif transform == "bucket":
        w = params.get("width", 10)
        if not isinstance(w, int | float) or w <= 0:
            raise _fail(profile, f"field #{i + 1}: width must be positive")
    elif transform == "redact" and params.get("policy", "redacted") not in (
        "redacted", "masked", "pseudonymised"
    ):
        raise _fail(profile, f"field #{i + 1}: policy must be redacted, masked or pseudonymised")


FOLDER = "exports"


def load_profile(policies: PolicyFiles, name: str) -> Profile:
    """The profile ``name`` from ``exports/<name>.toml`` of ``policies``; NotFound if absent
    (re-read when the file changes)."""
    if not NAME_RE.fullmatch(name or ""):
        raise NotFound("no such export profile")
    return policies.load(f"{FOLDER}/{name}", lambda files: _build(files, name))


def _build(files: PolicyFiles, name: str) -> Profile:
    file = f"{FOLDER}/{name}.toml"
    if not files.exists(file):
        raise NotFound("no such export profile")
    try:
        data = files.document(file)
    except PolicyFileError as exc:  # not valid TOML: the file and line, as a refused profile
        raise _fail(name, exc.message) from None
    return parse_profile(name, data)


def load_profiles(policies: PolicyFiles) -> list[Profile]:
    """Every profile in ``exports/`` of ``policies``, validated, sorted by name."""
    return [load_profile(policies, Path(file).stem) for file in policies.listing(FOLDER)]

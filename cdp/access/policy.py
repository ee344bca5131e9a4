"""Access policy: casbin rules (role, resource, action, purpose) plus field views per role.

Everything comes from files in the policy directory (``roles.toml``, ``model.conf``,
``policy.csv``, ``views.toml``), read through the platform's ``PolicyFiles``, is validated
as a whole, and is refused with a message naming the file and the bad name when anything
is unknown. A loaded ``PolicySet`` is
immutable; ``PolicyStore`` swaps in a new one when the files change (see ``current``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import casbin
from casbin.model import Model

from cdp.errors import CdpError
from cdp.policyfiles import PolicyFileError, PolicyFiles

log = logging.getLogger("cdp.access.policy")
# casbin logs the whole model at INFO on every load (each reload in every worker): noise.
logging.getLogger("casbin").setLevel(logging.WARNING)

VIEWS = ("plain", "masked", "redacted", "absent")
# "unknown" is the category of anything unclassified: deny by default, never grantable.
UNKNOWN = "unknown"
ANY_PURPOSE = "*"
POLICY_FILES = ("roles.toml", "model.conf", "policy.csv", "views.toml")


class PolicyError(CdpError):
    """The policy files are inconsistent; the message names the file and the bad entry."""

    status = 500
    code = "policy_invalid"


@dataclass(frozen=True)
class CategoryView:
    """How one role sees one data category."""

    view: str
    level: str | None = None  # address generalisation: province | city | district
    pii_policy: str | None = None  # free text: re-redact with policies/pii/<name>.toml
    consent: str | None = None  # absent unless the customer granted this consent purpose


ABSENT = CategoryView("absent")


@dataclass(frozen=True)
class PolicySet:
    roles: frozenset[str]
    categories: tuple[str, ...]
    purposes: dict[str, dict[str, Any]]
    consents: frozenset[str]
    views: dict[str, dict[str, CategoryView]]
    purpose_views: dict[tuple[str, str], dict[str, CategoryView]]
    break_glass: dict[str, frozenset[str]]
    health_classes: tuple[tuple[str, str], ...]
    health_default: str
    rules: tuple[tuple[str, str, str, str], ...]
    fingerprint: str
    enforcer: casbin.Enforcer = field(repr=False, compare=False)
    # Where the views' pii_policy operator sets are read (policies/pii of the same files).
    files: PolicyFiles | None = field(default=None, repr=False, compare=False)
    # Decisions are pure functions of the immutable rules: memoised per PolicySet, so a
    # reload (a new PolicySet) starts with an empty memo.
    _memo: dict[tuple[str, str, str, str], bool] = field(
        default_factory=dict, repr=False, compare=False
    )

    def allows(self, role: str, resource: str, action: str, purpose: str | None = None) -> bool:
        """The casbin decision for (role, resource, action, purpose)."""
        key = (role, resource, action, purpose or "")
        hit = self._memo.get(key)
        if hit is None:
            hit = bool(self.enforcer.enforce(*key))
            if len(self._memo) < 10_000:
                self._memo[key] = hit
        return hit

    def purposes_for(self, role: str, resource: str, action: str) -> list[str]:
        """Purposes ``role`` may state for ``action`` on ``resource`` ("*" = any)."""
        return sorted(
            {p for r, res, a, p in self.rules if r == role and res == resource and a == action}
        )

    def view_for(self, role: str, purpose: str | None, category: str) -> CategoryView:
        """The view of ``category`` for ``role`` stating ``purpose`` (absent by default)."""
        if category == UNKNOWN or category not in self.categories:
            return ABSENT
        if purpose is not None:
            override = self.purpose_views.get((role, purpose), {}).get(category)
            if override is not None:
                return override
        return self.views.get(role, {}).get(category, ABSENT)

    def required_consent(self, purpose: str | None) -> str | None:
        if purpose is None:
            return None
        return self.purposes.get(purpose, {}).get("requires_consent")

    def health_class(self, item_name: str) -> str:
        lowered = (item_name or "").lower()
        for stem, cls in self.health_classes:
            if stem in lowered:
                return cls
        return self.health_default


# ---------------------------------------------------------------------------------------
# Loading and validation


def _pii_policy_exists(files: PolicyFiles, name: Any) -> bool:
    try:
        return isinstance(name, str) and files.exists(f"pii/{name}.toml")
    except PolicyFileError:  # not a file name at all
        return False


def _parse_view(
    where: str, category: str, raw: Any, *, levels: set[str], consents: set[str],
    files: PolicyFiles,
) -> CategoryView:
    if isinstance(raw, str):
        raw = {"view": raw}
    if not isinstance(raw, dict):
        raise PolicyError(f"views.toml: {where}.{category} must be a view name or a table")
    unknown_keys = set(raw) - {"view", "level", "pii_policy", "consent"}
    if unknown_keys:
        raise PolicyError(f"views.toml: {where}.{category} has unknown keys {sorted(unknown_keys)}")
    view = raw.get("view")
    if view not in VIEWS:
        raise PolicyError(
            f"views.toml: {where}.{category} names unknown view {view!r}; one of {', '.join(VIEWS)}"
        )
    level = raw.get("level")
    if level is not None:
        if category != "address":
            raise PolicyError(f"views.toml: {where}.{category}: 'level' applies to address only")
        if level not in levels:
            raise PolicyError(
                f"views.toml: {where}.address names unknown level {level!r}; one of {sorted(levels)}"
            )
    pii_policy = raw.get("pii_policy")
    if pii_policy is not None and not _pii_policy_exists(files, pii_policy):
        raise PolicyError(
            f"views.toml: {where}.{category} names unknown pii_policy {pii_policy!r} "
            f"(no pii/{pii_policy}.toml)"
        )
    consent = raw.get("consent")
    if consent is not None and consent not in consents:
        raise PolicyError(
            f"views.toml: {where}.{category} names unknown consent {consent!r}; "
            f"declare it under [consents]"
        )
    return CategoryView(view=view, level=level, pii_policy=pii_policy, consent=consent)


def _read_rules(
    text: str, roles: set[str], purposes: set[str]
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    rules: list[tuple[str, str, str, str]] = []
    groups: list[tuple[str, str]] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text), skipinitialspace=True), start=1):
        row = [c.strip() for c in row]
        if not row or not row[0] or row[0].startswith("#"):
            continue
        kind, fields = row[0], row[1:]
        if kind == "g":
            if len(fields) != 2:
                raise PolicyError(f"policy.csv line {lineno}: a g line needs two names")
            groups.append((fields[0], fields[1]))
            continue
        if kind != "p":
            raise PolicyError(f"policy.csv line {lineno}: unknown line type {kind!r} (p or g)")
        if len(fields) == 3:
            fields.append(ANY_PURPOSE)
        if len(fields) != 4 or not all(fields):
            raise PolicyError(
                f"policy.csv line {lineno}: expected 'p, role, resource, action[, purpose]'"
            )
        role, resource, action, purpose = fields
        if role not in roles and role not in {g[1] for g in groups}:
            raise PolicyError(
                f"policy.csv line {lineno}: unknown role {role!r}; declare it in roles.toml"
            )
        if purpose != ANY_PURPOSE and purpose not in purposes:
            raise PolicyError(
                f"policy.csv line {lineno}: unknown purpose {purpose!r}; "
                f"one of {', '.join(sorted(purposes))} or *"
            )
        rules.append((role, resource, action, purpose))
    for member, _group in groups:
        if member not in roles:
            raise PolicyError(f"policy.csv: g line names unknown role {member!r}")
    return rules, groups


def fingerprint(files: PolicyFiles) -> tuple[int | None, ...]:
    """Cheap change detector: the content version of each policy file (PolicyFiles compares
    their (mtime_ns, size, inode), and the bytes of a file written in the last seconds)."""
    return tuple(files.version(name) for name in POLICY_FILES)


def load_policy_set(files: PolicyFiles) -> PolicySet:
    """Load and validate every access policy file of ``files``; PolicyError when bad."""
    try:
        return _load_policy_set(files)
    except PolicyFileError as exc:  # missing or not valid TOML: the same refusal
        raise PolicyError(exc.message) from None


def _load_policy_set(files: PolicyFiles) -> PolicySet:
    roles_doc = files.document("roles.toml")
    roles = set(roles_doc.get("roles", {}))
    if not roles:
        raise PolicyError("roles.toml: declares no [roles.*]")
    doc = files.document("views.toml")

    categories = doc.get("categories")
    if not isinstance(categories, list) or not categories:
        raise PolicyError("views.toml: 'categories' must list the data categories")
    if UNKNOWN in categories:
        raise PolicyError(
            "views.toml: 'unknown' is reserved (never grantable); remove it from categories"
        )
    cats = set(categories)
    levels = set(doc.get("address_levels", ["province", "city", "district"]))
    purposes: dict[str, dict[str, Any]] = dict(doc.get("purposes", {}))
    consents = set(doc.get("consents", {}))
    for name, spec in purposes.items():
        needed = spec.get("requires_consent")
        if needed is not None and needed not in consents:
            raise PolicyError(
                f"views.toml: purposes.{name} requires unknown consent {needed!r}; "
                "declare it under [consents]"
            )
    views: dict[str, dict[str, CategoryView]] = {}
    purpose_views: dict[tuple[str, str], dict[str, CategoryView]] = {}
    break_glass: dict[str, frozenset[str]] = {}
    for role, spec in doc.get("roles", {}).items():
        if role not in roles:
            raise PolicyError(f"views.toml: unknown role {role!r}; declare it in roles.toml")
        unknown_keys = set(spec) - {"views", "purposes", "break_glass"}
        if unknown_keys:
            raise PolicyError(f"views.toml: roles.{role} has unknown keys {sorted(unknown_keys)}")

        def parse_block(where: str, block: dict[str, Any]) -> dict[str, CategoryView]:
            out = {}
            for category, raw in block.items():
                if category not in cats:
                    raise PolicyError(
                        f"views.toml: {where} names unknown category {category!r}; "
                        f"one of {', '.join(categories)}"
                    )
                out[category] = _parse_view(
                    where, category, raw, levels=levels, consents=consents, files=files
                )
            return out

        views[role] = parse_block(f"roles.{role}.views", spec.get("views", {}))
        for purpose, block in spec.get("purposes", {}).items():
            if purpose not in purposes:
                raise PolicyError(
                    f"views.toml: roles.{role}.purposes names unknown purpose {purpose!r}"
                )
            purpose_views[(role, purpose)] = parse_block(f"roles.{role}.purposes.{purpose}", block)
        bg = spec.get("break_glass", [])
        for category in bg:
            if category not in cats:
                raise PolicyError(
                    f"views.toml: roles.{role}.break_glass names unknown category {category!r}"
                )
        break_glass[role] = frozenset(bg)

    hc = dict(doc.get("health_classes", {}))
    health_default = str(hc.pop("default", "prescription_medicine"))
    health_classes = tuple((stem.lower(), str(cls)) for stem, cls in hc.items())

    rules, groups = _read_rules(files.text("policy.csv"), roles, set(purposes))
    model_text = files.text("model.conf")
    try:
        model = Model()
        model.load_model_from_text(model_text)
        enforcer = casbin.Enforcer(model)
        for rule in rules:
            enforcer.add_policy(*rule)
        for member, group in groups:
            enforcer.add_grouping_policy(member, group)
        enforcer.build_role_links()
    except Exception as exc:  # noqa: BLE001 - casbin raises plain exceptions for a bad model
        raise PolicyError(
            f"model.conf: casbin refused the model ({type(exc).__name__}: {exc})"
        ) from None

    digest = hashlib.sha256()
    for name in POLICY_FILES:
        digest.update(files.text(name).encode("utf-8"))
    return PolicySet(
        roles=frozenset(roles),
        categories=tuple(categories),
        purposes=purposes,
        consents=frozenset(consents),
        views=views,
        purpose_views=purpose_views,
        break_glass=break_glass,
        health_classes=health_classes,
        health_default=health_default,
        rules=tuple(rules),
        fingerprint=digest.hexdigest()[:16],
        enforcer=enforcer,
        files=files,
    )


class PolicyStore:
    """The current PolicySet of one policy directory, reloaded when its files change.

    Propagation across gunicorn workers: the files are the single source of truth and every
    ``current()`` call compares (mtime_ns, size, inode) of the four files with what was
    loaded: a few ``stat`` calls, microseconds per request. A change written by any process
    (an operator's editor, a deploy, ``cdp access reload``) is seen by every worker on its next
    request. A changed policy that fails validation is refused and the last good one is kept
    (logged as an error), so a typo cannot silently open or close access.
    """

    def __init__(self, files: PolicyFiles):
        self.files = files
        self.policy_dir = str(files.directory)
        self._lock = threading.Lock()
        self._stamp = fingerprint(files)
        self._policy = load_policy_set(files)
        self.last_error: str | None = None
        self.reloads = 0
        self.loaded_at = time.time()  # when the policy in force was loaded
        self.refused_at: float | None = None  # when a changed policy was last refused

    def current(self) -> PolicySet:
        stamp = fingerprint(self.files)
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._policy

    def _reload(self, stamp: tuple[Any, ...]) -> None:
        try:
            fresh = load_policy_set(self.files)
        except PolicyError as exc:
            self.last_error = exc.message
            self.refused_at = time.time()
            log.error(
                "policy change refused, keeping version %s: %s",
                self._policy.fingerprint,
                exc.message,
            )
        else:
            if fresh.fingerprint != self._policy.fingerprint:
                log.info("policy reloaded: %s -> %s", self._policy.fingerprint, fresh.fingerprint)
            self._policy = fresh
            self.last_error = None
            self.reloads += 1
            self.loaded_at = time.time()
        self._stamp = stamp


def policy_store(files: PolicyFiles) -> PolicyStore:
    """The store of ``files`` (the platform's: one per PolicyFiles, created and validated on
    first use)."""
    return files.shared("access.store", PolicyStore)


def decision_cost(policy: PolicySet, n: int = 10_000, *, memo: bool = True) -> float:
    """Mean seconds per decision (used by the benchmark); ``memo=False`` asks casbin each time."""
    args = ("pharmacist", "customers", "read", "pharmacy_care")
    t0 = time.perf_counter()
    for _ in range(n):
        if memo:
            policy.allows(*args)
        else:
            policy.enforcer.enforce(*args)
    return (time.perf_counter() - t0) / n

"""Render the unified customer view for one role and purpose: the one place fields are shaped.

Data-driven: every personal leaf of the view (docs/api.md) carries a ``category``; the policy
says how the role sees that category (plain, masked, redacted, absent). Nothing here names a
role. Anything whose category is unknown or not granted is left out entirely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdp.access import masking
from cdp.access.freetext import render_text
from cdp.access.policy import CategoryView, PolicySet

PLAIN = "plain"
ABSENT = "absent"


def effective_consents(view: Mapping[str, Any]) -> dict[str, bool]:
    """The newest decision per consent purpose (later ``at`` wins; ties: later in list)."""
    latest: dict[str, tuple[str, bool]] = {}
    for c in view.get("consents") or []:
        purpose, at = c.get("purpose"), str(c.get("at") or "")
        if purpose is None:
            continue
        prev = latest.get(purpose)
        if prev is None or at >= prev[0]:
            latest[purpose] = (at, bool(c.get("granted")))
    return {p: granted for p, (_, granted) in latest.items()}


@dataclass
class RenderSummary:
    """What was served: category -> view given, and the categories held back. No values."""

    given: dict[str, str] = field(default_factory=dict)
    withheld: set[str] = field(default_factory=set)

    def note(self, category: str, view: str) -> None:
        if view == ABSENT:
            self.withheld.add(category)
        else:
            self.given[category] = view


class _Renderer:
    def __init__(
        self,
        policy: PolicySet,
        role: str,
        purpose: str | None,
        consents: Mapping[str, bool],
        plain_categories: Iterable[str],
    ):
        self.policy = policy
        self.role = role
        self.purpose = purpose
        self.consents = consents
        self.plain = frozenset(plain_categories)
        self.summary = RenderSummary()
        self._cache: dict[str, CategoryView] = {}

    def view(self, category: str | None) -> CategoryView:
        cat = category or "unknown"
        cv = self._cache.get(cat)
        if cv is None:
            cv = self.policy.view_for(self.role, self.purpose, cat)
            if cv.view != ABSENT and cv.consent and not self.consents.get(cv.consent, False):
                cv = CategoryView(ABSENT)
            if cat in self.plain and cat in self.policy.categories:
                cv = CategoryView(PLAIN)
            self._cache[cat] = cv
        self.summary.note(cat, cv.view)
        return cv

    # -- leaves ---------------------------------------------------------------------------
    def identifier(self, ident: Mapping[str, Any]) -> dict[str, Any] | None:
        cv = self.view(ident.get("category"))
        if cv.view == ABSENT:
            return None
        out = {
            "type": ident.get("type"),
            "status": ident.get("status"),
            "category": ident.get("category"),
        }
        value = ident.get("value")
        if cv.view == PLAIN:
            out["value"] = value
        elif cv.view == "masked":
            out["value"] = masking.mask_identifier(str(ident.get("type")), str(value or ""))
        else:  # redacted: the identifier exists, its value is withheld
            out["value"] = masking.REDACTED
        return out

    def profile_value(self, name: str, value: Any, cv: CategoryView) -> Any:
        if cv.view == PLAIN:
            return value
        text = "" if value is None else str(value)
        if name == "address":
            if cv.view == "masked":
                return masking.mask_address(text)
            return masking.generalise_address(text, cv.level or "province")
        if name == "name":
            return masking.mask_name(text) if cv.view == "masked" else masking.REDACTED
        if name == "birth_date":
            return masking.mask_birth_date(text) if cv.view == "masked" else masking.decade(text)
        if name == "gender":
            return "*" if cv.view == "masked" else masking.REDACTED
        return masking.mask_generic(value) if cv.view == "masked" else masking.REDACTED

    def profile(self, profile: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, entry in (profile or {}).items():
            if not isinstance(entry, Mapping):
                continue
            cv = self.view(entry.get("category"))
            if cv.view == ABSENT:
                continue
            rendered = {k: v for k, v in entry.items() if k not in ("value", "values")}
            rendered["value"] = self.profile_value(name, entry.get("value"), cv)
            rendered["values"] = [
                {
                    **{k: v for k, v in item.items() if k != "value"},
                    "value": self.profile_value(name, item.get("value"), cv),
                }
                for item in entry.get("values") or []
                if isinstance(item, Mapping)
            ]
            rendered["view"] = cv.view
            out[name] = rendered
        return out

    def order(self, order: Mapping[str, Any]) -> dict[str, Any] | None:
        category = order.get("category")
        cv = self.view(category)
        if cv.view == ABSENT:
            return None
        out = {k: v for k, v in order.items() if k != "items"}
        items = order.get("items") or []
        if cv.view == PLAIN:
            out["items"] = list(items)
        elif cv.view == "masked":
            # Which orders exist and their totals, not what was bought.
            out["items"] = [
                {
                    "sku": None,
                    "name": masking.REDACTED,
                    "rx": i.get("rx"),
                    "qty": i.get("qty"),
                    "unit_price": i.get("unit_price"),
                }
                for i in items
            ]
        else:
            # Redacted to a category: therapeutic class for health, nothing per item otherwise.
            out.pop("order_id", None)
            if category == "health":
                out["items"] = [
                    {
                        "class": self.policy.health_class(str(i.get("name") or "")),
                        "rx": i.get("rx"),
                        "qty": i.get("qty"),
                    }
                    for i in items
                ]
            else:
                out["items"] = [
                    {"qty": i.get("qty"), "unit_price": i.get("unit_price")} for i in items
                ]
        out["view"] = cv.view
        return out

    def interaction(self, it: Mapping[str, Any]) -> dict[str, Any] | None:
        cv = self.view(it.get("category"))
        if cv.view == ABSENT:
            return None
        out = {k: v for k, v in it.items() if k not in ("text", "text_redacted")}
        if cv.view == PLAIN:
            out["text"] = it.get("text")
        elif cv.pii_policy:
            # Re-redacted under the view's operator set; the spans come from the stored
            # ingest-time redaction when it determines them (no scan per read).
            out["text"] = render_text(
                str(it.get("text") or ""),
                cv.pii_policy,
                text_redacted=it.get("text_redacted"),
                entity_types=it.get("entity_types"),
                policies=self.policy.files,
            )
        else:
            # The ingest-time redaction; never fall back to the original.
            out["text"] = it.get("text_redacted") or masking.REDACTED
        out["view"] = cv.view
        return out

    def extra(self, ex: Mapping[str, Any]) -> dict[str, Any] | None:
        cv = self.view(ex.get("category"))
        if cv.view == ABSENT:
            return None
        out = {k: v for k, v in ex.items() if k != "value"}
        value = ex.get("value")
        if cv.view == PLAIN:
            out["value"] = value
        elif cv.view == "masked":
            out["value"] = masking.mask_generic(value)
        else:
            out["value"] = masking.REDACTED
        out["view"] = cv.view
        return out

    def consent(self, c: Mapping[str, Any]) -> dict[str, Any] | None:
        cv = self.view(c.get("category") or "consent")
        if cv.view == ABSENT:
            return None
        if cv.view == PLAIN:
            return dict(c)
        return {
            "purpose": c.get("purpose"),
            "granted": c.get("granted"),
            "at": c.get("at"),
            "category": c.get("category"),
        }

    # -- the whole view -------------------------------------------------------------------
    def customer(self, view: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: view.get(k)
            for k in ("customer_id", "status", "merged_into", "created_at", "updated_at")
        }
        if view.get("status") == "merged":
            return out
        identities = []
        for ident in view.get("identities") or []:
            ids = [r for r in (self.identifier(i) for i in ident.get("identifiers") or []) if r]
            identities.append(
                {
                    "source": ident.get("source"),
                    "source_record_id": ident.get("source_record_id"),
                    "observed_at": ident.get("observed_at"),
                    "identifiers": ids,
                }
            )
        out["identities"] = identities
        out["profile"] = self.profile(view.get("profile") or {})
        out["extra_fields"] = [r for r in map(self.extra, view.get("extra_fields") or []) if r]
        out["orders"] = [r for r in map(self.order, view.get("orders") or []) if r]
        out["prescriptions"] = [r for r in map(self.order, view.get("prescriptions") or []) if r]
        out["interactions"] = [
            r for r in map(self.interaction, view.get("interactions") or []) if r
        ]
        out["consents"] = [r for r in map(self.consent, view.get("consents") or []) if r]
        # Links hold rules and evidence kinds, never values.
        out["links"] = [dict(link) for link in view.get("links") or []]
        return out


def render_with_summary(
    view: Mapping[str, Any],
    role: str,
    purpose: str | None,
    consents: Mapping[str, bool] | None = None,
    *,
    policy: PolicySet,
    plain_categories: Iterable[str] = (),
) -> tuple[dict[str, Any], RenderSummary]:
    """The view as ``role`` may see it for ``purpose``, and a summary of what was given.

    ``plain_categories`` lifts categories to plain (an active break-glass grant).
    """
    r = _Renderer(
        policy,
        role,
        purpose,
        consents if consents is not None else effective_consents(view),
        plain_categories,
    )
    return r.customer(view), r.summary


def render(
    view: Mapping[str, Any],
    role: str,
    purpose: str | None,
    consents: Mapping[str, bool] | None = None,
    *,
    policy: PolicySet,
    plain_categories: Iterable[str] = (),
) -> dict[str, Any]:
    """``render_with_summary`` without the summary."""
    return render_with_summary(
        view, role, purpose, consents, policy=policy, plain_categories=plain_categories
    )[0]

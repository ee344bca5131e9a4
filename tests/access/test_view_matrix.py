"""Every role x every purpose x every data category, through the real HTTP endpoints.

Expectations come from the policy files (policies/views.toml, policy.csv) and the
hand-written appearance of each category in each view (tests/access/fixtures.py); nothing
a view hides may appear anywhere in the body, the headers or an error message.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cdp.access.policy import load_policy_set
from cdp.audit.models import AuditEvent
from cdp.policyfiles import PolicyFiles
from tests.access.fixtures import FULL_RECORD, HIDDEN, OPENNESS, SHOWN, ingest, record_variant
from tests.conftest import POLICY_DIR

ROLES = sorted(tomllib.loads(Path(POLICY_DIR, "roles.toml").read_text())["roles"])
PURPOSES = sorted(tomllib.loads(Path(POLICY_DIR, "views.toml").read_text())["purposes"])


def _categories_in(body: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(body, dict):
        if isinstance(body.get("category"), str):
            found.add(body["category"])
        for v in body.values():
            found |= _categories_in(v)
    elif isinstance(body, list):
        for v in body:
            found |= _categories_in(v)
    return found


def _level(view: str, cv: Any) -> str:
    if view == "redacted" and cv.level:
        return f"redacted:{cv.level}"
    return view


def _expected_view(
    policy: Any, role: str, purpose: str, category: str, consents: dict[str, bool]
) -> str:
    cv = policy.view_for(role, purpose, category)
    if cv.view != "absent" and cv.consent and not consents.get(cv.consent):
        return "absent"
    return _level(cv.view, cv)


# Random identifiers in a response (customer, record and key ids, request ids: 32+ hex
# characters) can hold a short hidden fragment such as a birth year by chance ("...1985..."):
# they are taken out before looking for hidden values, never before looking for shown ones.
_RANDOM_IDS = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])")


def _check_view(text: str, category: str, shown_as: str) -> list[str]:
    problems = []
    scrubbed = _RANDOM_IDS.sub("", text)
    expected = SHOWN[category].get(shown_as, SHOWN[category].get(shown_as.split(":")[0], []))
    for fragment in expected if shown_as != "absent" else []:
        if fragment not in text:
            problems.append(f"{category} as {shown_as}: expected {fragment!r}")
    rank = (
        OPENNESS.index(shown_as) if shown_as in OPENNESS else OPENNESS.index(shown_as.split(":")[0])
    )
    for hidden_at, fragments in HIDDEN[category].items():
        base = hidden_at if hidden_at in OPENNESS else hidden_at.split(":")[0]
        if OPENNESS.index(hidden_at if hidden_at in OPENNESS else base) > rank:
            for fragment in fragments:
                if fragment in scrubbed:
                    problems.append(
                        f"{category} as {shown_as}: leaked {fragment!r} (only for {hidden_at})"
                    )
    return problems


def test_role_purpose_category_matrix(client, make_api_key, platform) -> None:  # type: ignore[no-untyped-def]
    policy = load_policy_set(PolicyFiles(POLICY_DIR))
    [customer] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    consents = {"marketing": True, "marketing_health": True}
    problems: list[str] = []
    allowed_pairs = 0
    for role in ROLES:
        headers = make_api_key(role)
        for purpose in PURPOSES:
            r = client.get(
                f"/v1/customers/{customer}", headers={**headers, "X-Purpose-Of-Use": purpose}
            )
            text = r.get_data(as_text=True) + json.dumps(dict(r.headers), ensure_ascii=False)
            where = f"[{role} / {purpose}]"
            if not policy.allows(role, "customers", "read", purpose):
                if r.status_code != 403:
                    problems.append(f"{where} expected 403, got {r.status_code}")
                for cat in SHOWN:
                    problems += [f"{where} {p}" for p in _check_view(text, cat, "absent")]
                continue
            allowed_pairs += 1
            if r.status_code != 200:
                problems.append(f"{where} expected 200, got {r.status_code}: {r.get_json()}")
                continue
            body = r.get_json()
            given = {}
            for cat in SHOWN:
                shown_as = _expected_view(policy, role, purpose, cat, consents)
                problems += [f"{where} {p}" for p in _check_view(text, cat, shown_as)]
                if shown_as != "absent":
                    given[cat] = shown_as.split(":")[0]
            # Structurally: exactly the granted categories carry data, nothing else.
            present = _categories_in({k: v for k, v in body.items() if k != "links"})
            if present != set(given):
                problems.append(f"{where} categories {sorted(present)} != policy {sorted(given)}")
            with platform.transaction() as s:
                entry = s.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.customer_id == customer)
                    .order_by(AuditEvent.id.desc())
                    .limit(1)
                ).one()
            if (entry.action, entry.role, entry.purpose, entry.decision) != (
                "customers.read",
                role,
                purpose,
                "allow",
            ) or entry.view != given:
                problems.append(f"{where} audit entry {entry.action} {entry.view} != {given}")
    assert allowed_pairs >= 10
    assert not problems, "\n".join(problems)


def test_marketing_needs_consent_and_separate_health_consent(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    at = "2026-01-01T00:00:00+08:00"
    no_health, no_marketing, withdrawn = ingest(
        client,
        make_api_key("ingest_service"),
        [
            record_variant("mk-1", 1, [{"purpose": "marketing", "granted": True, "at": at}]),
            record_variant("mk-2", 2, []),
            record_variant(
                "mk-3",
                3,
                [
                    {"purpose": "marketing", "granted": True, "at": at},
                    {"purpose": "marketing", "granted": False, "at": "2026-02-01T00:00:00+08:00"},
                ],
            ),
        ],
    )
    headers = make_api_key("marketing", "marketing")
    r = client.get(f"/v1/customers/{no_health}", headers=headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["prescriptions"] == [] and "二甲双胍" not in r.get_data(as_text=True)
    assert body["orders"] and body["profile"]["address"]["value"] == "广东省深圳市"
    assert len({no_health, no_marketing, withdrawn}) == 3
    for cid in (no_marketing, withdrawn):
        r = client.get(f"/v1/customers/{cid}", headers=headers)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "consent_required"
        assert not any(v in r.get_data(as_text=True) for v in ("王", "赵", "深南大道", "13700"))

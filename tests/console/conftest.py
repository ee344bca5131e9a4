"""Fixtures for console tests: an app whose cookies work over plain http (the test client
and the live server speak http), accounts per role, and a customer ingested through /v1."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cdp.config import Config
from tests.access.fixtures import FULL_RECORD
from tests.console.helpers import make_user
from tests.logcheck import register_sensitive

ROLES = ("customer_service", "pharmacist", "marketing", "analyst", "data_steward",
         "compliance_officer", "admin")


def user_name(role: str) -> str:
    return role.replace("_", "-")


@pytest.fixture(autouse=True)
def light_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with a small cost for tests: the same code paths and hash format, but a
    sign-in costs milliseconds instead of the production second (RFC 9106 parameters)."""
    from argon2 import PasswordHasher

    from cdp.console import accounts

    light = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", light)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", light.hash("dummy for unknown names"))


@pytest.fixture
def console_config(config: Config) -> Config:
    return dataclasses.replace(config, extra={**config.extra, "console_cookie_secure": False})


@pytest.fixture
def console_app(console_config: Config) -> Iterator[Any]:
    from cdp.app import create_app

    application = create_app(console_config)
    yield application
    application.extensions["cdp"].dispose()


@pytest.fixture
def staff(console_app: Any) -> dict[str, str]:
    """One console account per role (role -> user name)."""
    platform = console_app.extensions["cdp"]
    for role in ROLES:
        make_user(platform, user_name(role), role)
    return {role: user_name(role) for role in ROLES}


def ingest(app: Any, records: list[dict[str, Any]]) -> list[str]:
    from cdp.access.apikeys import create_key

    with app.extensions["cdp"].transaction() as session:
        _, key = create_key(session, "ingest_service")
    resp = app.test_client().post("/v1/records", json=records,
                                  headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.get_json()
    return [r["customer_id"] for r in resp.get_json()["results"]]


NO_CONSENT_PHONE = "+86 139 0000 1234"


def customer_records() -> list[dict[str, Any]]:
    """The consenting customer seen by two channels, and one customer without consents."""
    first = copy.deepcopy(FULL_RECORD)
    second = copy.deepcopy(FULL_RECORD)
    second.update(source="wechat", source_record_id="wx-1",
                  identifiers=[{"type": "phone", "value": "13812345678"},
                               {"type": "wechat_openid", "value": "oWx_93jd82kq"}])
    plain = copy.deepcopy(FULL_RECORD)
    plain.update(source="app", source_record_id="app-7", consents=[],
                 identifiers=[{"type": "phone", "value": NO_CONSENT_PHONE},
                              {"type": "member_id", "value": "M20261234"}],
                 profile={"name": "李四", "gender": "female", "birth_date": "1990-01-02"},
                 interactions=[])
    for rec in (first, second, plain):
        for ident in rec["identifiers"]:
            register_sensitive([ident["value"]])
    return [first, second, plain]


@pytest.fixture
def customers(console_app: Any) -> dict[str, str]:
    ids = ingest(console_app, customer_records())
    assert ids[0] == ids[1] != ids[2]
    return {"consenting": ids[0], "no_consent": ids[2]}


def crm_as_of() -> date:
    """The CRM refresh day of the tests: today, or the last day of the previous year early
    in January (two fills 30 days apart must fall inside one measurement year)."""
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    return today if today.timetuple().tm_yday > 45 else date(today.year - 1, 12, 31)


# (consents, how many): marketplace statin buyers. marketplace_buyers (plain) holds all 12,
# statin_users (health-derived) too; marketing may list 10 and 4 of them respectively.
CRM_GROUPS: tuple[tuple[dict[str, bool], int], ...] = (
    ({"marketing": True, "marketing_health": True}, 4),
    ({"marketing": True}, 6),
    ({}, 2),
)


def crm_records(as_of: date) -> list[dict[str, Any]]:
    from tests.crm.helpers import fill, order, otc, person

    first = (as_of - timedelta(days=40)).isoformat() + "T10:00:00+08:00"
    second = (as_of - timedelta(days=10)).isoformat() + "T10:00:00+08:00"
    out = []
    for i, (consents, n) in enumerate(CRM_GROUPS):
        for j in range(n):
            k = len(out)
            spend = 20.0 + 45.0 * k  # spread over frequency and value scores
            extra = [order(f"CRM-{i}-{j}-x{e}",
                           (as_of - timedelta(days=15 + 4 * e)).isoformat() + "T12:00:00+08:00",
                           [otc(spend)]) for e in range(k % 5)]
            out.append(person([order(f"CRM-{i}-{j}-1", first, [fill("C10AA05", 30), otc(spend)]),
                               order(f"CRM-{i}-{j}-2", second, [fill("C10AA05", 30)]), *extra],
                              consents=consents, phone=f"1370000{i}{j:03d}"))
    return out


@pytest.fixture
def crm_population(console_app: Any) -> dict[str, list[str]]:
    """12 customers scored by a CRM refresh, by consent group: "both" (marketing and
    marketing_health), "marketing" (marketing only), "none"."""
    from cdp.crm.refresh import refresh

    as_of = crm_as_of()
    ids = ingest(console_app, crm_records(as_of))
    platform = console_app.extensions["cdp"]
    with platform.transaction() as session:
        refresh(session, platform, as_of)
    out: dict[str, list[str]] = {}
    at = 0
    for name, (_consents, n) in zip(("both", "marketing", "none"), CRM_GROUPS, strict=True):
        out[name] = ids[at:at + n]
        at += n
    return out

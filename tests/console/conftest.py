"""Fixtures for console tests: an app whose cookies work over plain http (the test client
and the live server speak http), accounts per role, and a customer ingested through /v1."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

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

"""Console test helpers: accounts made through the real service, sign-in through the real
forms (CSRF tokens read from the pages, as a browser would)."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from cdp.platform import Platform

PASSWORD = "correct horse battery staple"
ROLE_PURPOSE = {
    "customer_service": "customer_support",
    "pharmacist": "pharmacy_care",
    "marketing": "marketing",
    "analyst": "analytics",
    "data_steward": "customer_support",
    "compliance_officer": "compliance_audit",
    "admin": None,
}


def make_user(platform: Platform, name: str, role: str, password: str = PASSWORD) -> None:
    from cdp.console.accounts import create_user

    with platform.transaction() as session:
        create_user(session, name, role, password)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client: Any, name: str, password: str = PASSWORD, *, totp_secret: str | None = None,
          purpose: str | None = "auto", role: str | None = None) -> Any:
    """Sign in through the forms; states the role's purpose unless purpose=None."""
    page = client.get("/console/login")
    resp = client.post("/console/login", data={"username": name, "password": password,
                                               "csrf_token": csrf_from(page.get_data(as_text=True))})
    if resp.status_code != 302:
        return resp
    if resp.headers["Location"].endswith("/console/mfa"):
        mfa_page = client.get("/console/mfa").get_data(as_text=True)
        if totp_secret is None:
            m = re.search(r'id="totp-secret">([A-Z2-7]+)<', mfa_page)
            assert m
            totp_secret = m.group(1)
        resp = client.post("/console/mfa", data={"code": pyotp.TOTP(totp_secret).now(),
                                                 "csrf_token": csrf_from(mfa_page)})
        resp.totp_secret = totp_secret
    if purpose == "auto":
        purpose = ROLE_PURPOSE.get(role or "") if role else None
    if purpose:
        page = client.get("/console/purpose").get_data(as_text=True)
        client.post("/console/purpose", data={"purpose": purpose, "csrf_token": csrf_from(page)})
    return resp


def session_csrf(client: Any) -> str:
    return csrf_from(client.get("/console/purpose").get_data(as_text=True))

"""Sign-in, sessions, CSRF and headers of the console, through Flask's test client."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from cdp.audit.models import AuditEvent
from cdp.console.models import ConsoleSession, ConsoleUser
from cdp.console.sessions import token_hash
from cdp.db import utcnow
from tests.console.helpers import PASSWORD, csrf_from, login, session_csrf


def _cookie(client: Any, name: str = "cdp_console") -> str | None:
    c = client.get_cookie(name, path="/console")
    return c.value if c else None


def _events(app: Any, action: str) -> list[AuditEvent]:
    with app.extensions["cdp"].transaction() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)))


def test_sign_in_cookie_is_httponly_strict_and_secure_by_default(app, staff_default) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/console/login")
    resp = client.post("/console/login", data={"username": "cs-agent", "password": PASSWORD,
                                               "csrf_token": csrf_from(page.get_data(as_text=True))},
                       base_url="https://localhost")
    assert resp.status_code == 302
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("cdp_console="))
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" in header
    assert "Path=/console" in header


@pytest.fixture
def staff_default(app):  # type: ignore[no-untyped-def]
    from tests.console.helpers import make_user

    make_user(app.extensions["cdp"], "cs-agent", "customer_service")


def test_wrong_password_and_unknown_name_look_alike_and_are_audited(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    bad = login(client, staff["pharmacist"], "not the password at all")
    unknown = login(client, "nobody-here", "not the password at all")
    assert bad.status_code == unknown.status_code == 401
    assert "Invalid username or password." in bad.get_data(as_text=True)
    assert _cookie(client) is None
    denied = _events(console_app, "console.sign_in")
    assert [(e.actor, e.decision) for e in denied] == [("user:pharmacist", "deny"), ("anonymous", "deny")]


def test_post_without_csrf_token_is_refused_and_bearer_api_is_exempt(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    login(client, staff["customer_service"], role="customer_service")
    # A form post and an htmx post without the token: refused, the session unchanged.
    assert client.post("/console/purpose", data={"purpose": "data_subject_request"}).status_code == 400
    assert client.post("/console/logout", headers={"HX-Request": "true"}).status_code == 400
    assert client.post("/console/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in
    # Sign-in itself needs the form's token.
    other = console_app.test_client()
    assert other.post("/console/login", data={"username": staff["pharmacist"],
                                              "password": PASSWORD}).status_code == 400
    # The /v1 API takes bearer keys and no CSRF token.
    from cdp.access.apikeys import create_key

    with console_app.extensions["cdp"].transaction() as s:
        _, key = create_key(s, "ingest_service")
    resp = console_app.test_client().post("/v1/records", json=[], headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code != 400 or "csrf" not in resp.get_data(as_text=True).lower()
    assert "Content-Security-Policy" not in resp.headers
    assert len(_events(console_app, "console.csrf")) == 4


def test_security_headers_and_csp_nonce_match_the_page(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    resp = client.get("/console/login")
    csp = resp.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    html = resp.get_data(as_text=True)
    assert html.count(f'nonce="{nonce}"') == 3  # stylesheet, htmx, console.js
    assert "style=" not in html and "<script>" not in html
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Cache-Control"] == "no-store"
    assert client.get("/console/login").headers["Content-Security-Policy"] != csp  # fresh nonce
    assert "Content-Security-Policy" not in client.get("/healthz").headers


def test_idle_and_absolute_timeouts_sign_out(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    platform = console_app.extensions["cdp"]
    client = console_app.test_client()
    login(client, staff["customer_service"], role="customer_service")
    sid = token_hash(_cookie(client))  # type: ignore[arg-type]
    with platform.transaction() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.id == sid)
                  .values(last_seen_at=utcnow() - timedelta(minutes=14)))
    assert client.get("/console/").status_code == 200  # 14 minutes idle: still in
    with platform.transaction() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.id == sid)
                  .values(last_seen_at=utcnow() - timedelta(minutes=16)))
    resp = client.get("/console/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/login?why=idle")
    assert client.get("/console/").headers["Location"].endswith("/console/login")
    # Absolute lifetime: busy, but signed in more than 12 hours ago.
    client2 = console_app.test_client()
    login(client2, staff["pharmacist"], role="pharmacist")
    sid2 = token_hash(_cookie(client2))  # type: ignore[arg-type]
    with platform.transaction() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.id == sid2)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert "why=expired" in client2.get("/console/").headers["Location"]
    reasons = [e.detail["reason"] for e in _events(console_app, "console.session_end")]
    assert reasons == ["idle", "expired"]


def test_sessions_rotate_at_sign_in_and_second_factor(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    client.post("/console/login", data={"username": staff["admin"], "password": PASSWORD,
                                        "csrf_token": csrf_from(page)})
    halfway = _cookie(client)
    assert client.get("/console/admin/users").headers["Location"].endswith("/console/mfa")
    mfa_page = client.get("/console/mfa").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', mfa_page).group(1)  # type: ignore[union-attr]
    bad = client.post("/console/mfa", data={"code": "000000", "csrf_token": csrf_from(mfa_page)})
    assert "not valid" in bad.get_data(as_text=True)
    client.post("/console/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(mfa_page)})
    full = _cookie(client)
    assert full and full != halfway
    assert client.get("/console/admin/users").status_code == 200
    # The half-way token is dead.
    stale = console_app.test_client()
    stale.set_cookie("cdp_console", halfway, path="/console")  # type: ignore[arg-type]
    assert stale.get("/console/admin/users").status_code == 302
    # Next sign-in asks for a code of the enrolled secret, not a new enrolment; the code
    # already used is refused (no replay), the next one is accepted.
    again = console_app.test_client()
    page = again.get("/console/login").get_data(as_text=True)
    again.post("/console/login", data={"username": staff["admin"], "password": PASSWORD,
                                       "csrf_token": csrf_from(page)})
    mfa_page = again.get("/console/mfa").get_data(as_text=True)
    assert 'id="totp-secret"' not in mfa_page
    totp = pyotp.TOTP(secret)
    with console_app.extensions["cdp"].transaction() as s:
        step = s.scalar(select(ConsoleUser.totp_last_step).where(ConsoleUser.name == staff["admin"]))
    assert step is not None
    replay = again.post("/console/mfa", data={"code": totp.generate_otp(step),
                                              "csrf_token": csrf_from(mfa_page)})
    assert replay.status_code == 401
    following = totp.generate_otp(step + 1)
    resp = again.post("/console/mfa", data={"code": following, "csrf_token": csrf_from(mfa_page)})
    assert resp.status_code == 302 and again.get("/console/admin/users").status_code == 200


def test_revoked_session_stops_at_next_request(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    agent = console_app.test_client()
    login(agent, staff["customer_service"], role="customer_service")
    admin = console_app.test_client()
    login(admin, staff["admin"])
    page = admin.get("/console/admin/sessions").get_data(as_text=True)
    sid = token_hash(_cookie(agent))  # type: ignore[arg-type]
    assert sid in page
    resp = admin.post(f"/console/admin/sessions/{sid}/revoke",
                      headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(page)})
    assert resp.status_code == 200 and "Revoked" in resp.get_data(as_text=True)
    assert "why=revoked" in agent.get("/console/").headers["Location"]


def test_purpose_is_required_chosen_from_the_role_and_recorded(console_app, staff, customers) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    login(client, staff["pharmacist"], purpose=None)
    resp = client.get(f"/console/customers/{customers['consenting']}")
    assert "/console/purpose" in resp.headers["Location"]
    page = client.get("/console/purpose").get_data(as_text=True)
    assert '<label for="purpose">Purpose of use</label>' in page
    offered = re.findall(r'<option value="([a-z_]+)"', page.split('id="purpose"')[1].split("</select>")[0])
    assert offered == ["customer_support", "pharmacy_care"]
    # A purpose the role may not state is refused.
    assert client.post("/console/purpose", data={"purpose": "marketing",
                                                 "csrf_token": csrf_from(page)}).status_code == 422
    client.post("/console/purpose", data={"purpose": "pharmacy_care", "csrf_token": csrf_from(page)})
    html = client.get(f"/console/customers/{customers['consenting']}").get_data(as_text=True)
    assert "Purpose of use" in html and "pharmacy_care" in html
    assert "二甲双胍缓释片" in html  # pharmacy_care: prescriptions in plain
    reads = [e for e in _events(console_app, "customers.read") if e.decision == "allow"]
    assert [(e.actor, e.role, e.purpose) for e in reads] == [
        ("user:pharmacist", "pharmacist", "pharmacy_care")
    ]


def test_marketing_without_consent_is_refused_and_audited(console_app, staff, customers) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    login(client, staff["marketing"], role="marketing")
    resp = client.get(f"/console/customers/{customers['no_consent']}")
    assert resp.status_code == 403
    assert "consent" in resp.get_data(as_text=True)
    denied = [e for e in _events(console_app, "customers.read") if e.decision == "deny"]
    assert [(e.actor, e.customer_id, e.detail["reason"]) for e in denied] == [
        ("user:marketing", customers["no_consent"], "consent_missing")]


def test_language_from_browser_and_from_choice(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    zh = client.get("/console/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in zh and "用户名" in zh and "密码" in zh
    en = client.get("/console/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<label for="username">Username</label>' in en
    login(client, staff["customer_service"], role="customer_service")
    page = client.get("/console/").get_data(as_text=True)
    client.post("/console/language", data={"language": "zh", "next": "/console/",
                                           "csrf_token": csrf_from(page)})
    html = client.get("/console/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "搜索客户" in html and "使用目的" in html


def test_users_cli_create_list_disable_enable_reset(cli_env, console_app) -> None:  # type: ignore[no-untyped-def]
    from cdp.cli import cli

    runner = CliRunner()
    out = runner.invoke(cli, ["users", "create", "wang.li", "--role", "pharmacist", "--password-stdin"],
                        input="a long enough password\n", env=cli_env)
    assert out.exit_code == 0, out.output
    assert runner.invoke(cli, ["users", "create", "wang.li", "--role", "pharmacist", "--password-stdin"],
                         input="a long enough password\n", env=cli_env).exit_code == 2
    assert runner.invoke(cli, ["users", "create", "x1", "--role", "wizard", "--password-stdin"],
                         input="a long enough password\n", env=cli_env).exit_code == 2
    short = runner.invoke(cli, ["users", "create", "zhao", "--role", "analyst", "--password-stdin"],
                          input="short\n", env=cli_env)
    assert short.exit_code == 2 and "12" in short.output
    client = console_app.test_client()
    assert login(client, "wang.li", "a long enough password", role="pharmacist").status_code == 302
    assert runner.invoke(cli, ["users", "disable", "wang.li"], env=cli_env).exit_code == 0
    assert client.get("/console/").status_code == 302  # the session ended with the account
    assert login(console_app.test_client(), "wang.li", "a long enough password").status_code == 401
    listing = runner.invoke(cli, ["users", "list"], env=cli_env).output
    assert "wang.li\tpharmacist\tdisabled" in listing
    runner.invoke(cli, ["users", "enable", "wang.li"], env=cli_env)
    assert runner.invoke(cli, ["users", "reset", "wang.li", "--password-stdin"],
                         input="another long password\n", env=cli_env).exit_code == 0
    assert login(console_app.test_client(), "wang.li", "a long enough password").status_code == 401
    assert login(console_app.test_client(), "wang.li", "another long password").status_code == 302
    with console_app.extensions["cdp"].transaction() as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.name == "wang.li"))
        assert user is not None and user.password_hash.startswith("$argon2id$")


def test_break_glass_needs_reason_and_password_then_shows_plain(console_app, staff, customers) -> None:  # type: ignore[no-untyped-def]
    client = console_app.test_client()
    login(client, staff["customer_service"], role="customer_service")
    cid = customers["consenting"]
    masked = client.get(f"/console/customers/{cid}").get_data(as_text=True)
    assert "138****5678" in masked and "+8613812345678" not in masked
    page = client.get(f"/console/customers/{cid}/break-glass").get_data(as_text=True)
    token = csrf_from(page)
    no_reason = client.post(f"/console/customers/{cid}/break-glass",
                            data={"reason": "", "minutes": "15", "password": PASSWORD, "csrf_token": token})
    assert no_reason.status_code == 422
    wrong_pw = client.post(f"/console/customers/{cid}/break-glass",
                           data={"reason": "customer on the phone about a lost parcel", "minutes": "15",
                                 "password": "wrong password here", "csrf_token": token})
    assert wrong_pw.status_code == 401
    before = _cookie(client)
    ok = client.post(f"/console/customers/{cid}/break-glass",
                     data={"reason": "customer on the phone about a lost parcel", "minutes": "15",
                           "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    assert _cookie(client) != before  # re-authentication rotates the session
    plain = client.get(f"/console/customers/{cid}").get_data(as_text=True)
    assert "+8613812345678" in plain and 'id="break-glass-banner"' in plain
    assert [e.decision for e in _events(console_app, "customers.break_glass")] == ["allow"]
    assert session_csrf(client) != token


def test_production_hasher_is_argon2id_with_rfc_9106_cost() -> None:
    """The tests run a light hasher (conftest); production keeps argon2-cffi's defaults."""
    from argon2 import Type

    from cdp.console.accounts import PRODUCTION_HASHER as params

    assert params.type is Type.ID and params.memory_cost >= 64 * 1024 and params.time_cost >= 2


def test_password_guessing_against_one_account_is_throttled(console_app, staff) -> None:  # type: ignore[no-untyped-def]
    from cdp.console.pages.auth import MAX_FAILURES

    client = console_app.test_client()
    for _ in range(MAX_FAILURES):
        assert login(client, staff["analyst"], "wrong guess number one").status_code == 401
    # Now even the right password is refused for a while, and the refusal is on record.
    assert login(client, staff["analyst"]).status_code == 429
    # Another account is not affected.
    assert login(console_app.test_client(), staff["pharmacist"]).status_code == 302
    reasons = [e.detail["reason"] for e in _events(console_app, "console.sign_in")
               if e.decision == "deny"]
    assert reasons == ["bad_credentials"] * MAX_FAILURES + ["throttled"]

"""The console's journeys in a real browser (issue 17): each test is one person's task."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
from playwright.sync_api import expect
from sqlalchemy import select, update

from cdp.audit.models import AuditEvent
from cdp.console.models import ConsoleSession, ConsoleUser
from cdp.db import utcnow
from tests.console.browser.conftest import Watch, sign_in
from tests.console.conftest import NO_CONSENT_PHONE
from tests.console.helpers import PASSWORD, make_user

PLAIN_VALUES = ("+8613812345678", "13812345678", "11010519850412703X", "zhangsf@example.com",
                "jd_a8k2x9q7", "oWx_93jd82kq")


def storage(page: Any) -> str:
    """Everything the page's origin keeps in the browser that script can read."""
    return str(page.evaluate(
        "JSON.stringify([document.cookie, Object.entries(localStorage),"
        " Object.entries(sessionStorage)])"))


def _events(app: Any, **where: Any) -> list[AuditEvent]:
    with app.extensions["cdp"].transaction() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return list(s.scalars(q))


def test_journey1_search_open_masked_graph_sign_out_back(page, live, staff, customers, watch: Watch) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, live.url, staff["customer_service"], PASSWORD, "customer_support")
    expect(page.locator("#purpose-banner")).to_contain_text("customer_support")
    page.get_by_label("Search customers").fill("138 1234 5678")
    page.get_by_role("button", name="Search").click()
    link = page.locator("#results a").first
    expect(link).to_be_visible()
    expect(page.locator("#results")).to_contain_text("phone")
    link.click()
    page.wait_for_url(re.compile(rf".*/console/customers/{customers['consenting']}$"))
    html = page.content()
    assert "138****5678" in html and "110***********703X" in html
    assert not [v for v in PLAIN_VALUES if v in html]
    graph = page.locator("svg.identity-graph")
    expect(graph).to_be_visible()
    assert graph.locator("circle.graph-record").count() == 2  # jd_health and wechat records
    assert graph.locator("line.graph-edge").count() == 2
    expect(page.locator("table", has=page.locator("caption", has_text="Links"))).to_contain_text(
        "deterministic:phone")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/console/login\?why=signed_out"))
    page.go_back()
    page.wait_for_load_state("domcontentloaded")
    back = page.content()
    assert "138****5678" not in back and "张三丰" not in back
    expect(page.get_by_label("Username")).to_be_visible()
    stored = storage(page)
    assert "张三丰" not in stored and "5678" not in stored and "cdp_" not in stored
    assert watch.problems() == []
    reads = _events(live.app, action="customers.read", actor="user:customer-service", decision="allow")
    assert {e.customer_id for e in reads} == {customers["consenting"]}
    assert {e.purpose for e in reads} == {"customer_support"}


def test_journey2_pharmacist_sees_prescriptions_marketing_refused_without_consent(  # type: ignore[no-untyped-def]
    page, browser, live, staff, customers, watch: Watch
) -> None:
    sign_in(page, live.url, staff["pharmacist"], PASSWORD, "pharmacy_care")
    page.goto(f"{live.url}/console/customers/{customers['consenting']}")
    expect(page.get_by_role("heading", name="Prescriptions")).to_be_visible()
    expect(page.get_by_role("heading", name="Adherence and refills")).to_be_visible()
    expect(page.locator("main")).to_contain_text("二甲双胍缓释片")
    html = page.content()
    assert "138****5678" in html and not [v for v in PLAIN_VALUES if v in html]
    assert watch.problems() == []

    marketing = browser.new_page()
    mwatch = Watch()
    mwatch.attach(marketing)
    sign_in(marketing, live.url, staff["marketing"], PASSWORD, "marketing")
    marketing.get_by_label("Search customers").fill(NO_CONSENT_PHONE)
    marketing.get_by_role("button", name="Search").click()
    expect(marketing.locator("#results")).to_contain_text("consent")
    response = marketing.goto(f"{live.url}/console/customers/{customers['no_consent']}")
    assert response is not None and response.status == 403
    expect(marketing.get_by_role("alert")).to_contain_text("marketing")
    assert "李四" not in marketing.content() and "0000" not in marketing.content()
    denied = _events(live.app, action="customers.read", actor="user:marketing", decision="deny")
    assert {(e.customer_id, e.purpose, e.detail["reason"]) for e in denied} == {
        (customers["no_consent"], "marketing", "consent_missing")}
    marketing.close()


def test_journey3_break_glass_needs_reason_and_password_and_reaches_review(  # type: ignore[no-untyped-def]
    page, browser, live, staff, customers, watch: Watch
) -> None:
    cid = customers["consenting"]
    sign_in(page, live.url, staff["customer_service"], PASSWORD, "customer_support")
    page.goto(f"{live.url}/console/customers/{cid}")
    page.get_by_role("link", name="Break-glass access").click()
    page.get_by_label("Duration").select_option("15")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Open break-glass access").click()
    expect(page.locator("#reason-err")).to_be_visible()  # no reason: refused
    page.get_by_label("Reason").fill("Customer called about a parcel sent to the wrong address")
    page.get_by_label("Password").fill("not my password at all")
    page.get_by_role("button", name="Open break-glass access").click()
    expect(page.locator("#password-err")).to_be_visible()  # wrong password: refused
    assert _events(live.app, action="customers.break_glass") == []
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Open break-glass access").click()
    page.wait_for_url(re.compile(rf".*/console/customers/{cid}$"))
    banner = page.locator("#break-glass-banner")
    expect(banner).to_be_visible()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    expect(page.locator("main")).to_contain_text("+8613812345678")  # the plain view
    assert watch.problems() == []

    officer = browser.new_page()
    sign_in(officer, live.url, staff["compliance_officer"], PASSWORD, "compliance_audit")
    officer.goto(f"{live.url}/console/compliance/audit")
    review = officer.locator("#break-glass-review")
    expect(review).to_contain_text("user:customer-service")
    expect(review).to_contain_text(cid)
    expect(review).to_contain_text("parcel sent to the wrong address")
    assert "+8613812345678" not in officer.content()
    officer.close()


def test_journey4_steward_merges_then_splits(page, live, staff, customers, watch: Watch) -> None:  # type: ignore[no-untyped-def]
    a, b = customers["consenting"], customers["no_consent"]
    sign_in(page, live.url, staff["data_steward"], PASSWORD, "customer_support")
    page.goto(f"{live.url}/console/steward?customer={a}")
    page.get_by_label("Customer to merge into it").fill(b)
    page.locator("#merge-reason").fill("same person: confirmed by phone with the customer")
    page.get_by_role("button", name="Preview merge").click()
    preview = page.locator("#merge-preview")
    expect(preview).to_contain_text("3 source records")
    page.get_by_role("button", name="Confirm merge").click()
    expect(page.get_by_role("status")).to_contain_text("Merged")
    page.goto(f"{live.url}/console/customers/{a}")
    assert page.locator("svg.identity-graph circle.graph-record").count() == 3
    expect(page.locator("main")).to_contain_text("steward")
    page.goto(f"{live.url}/console/steward?customer={a}")
    page.get_by_label(re.compile(r"app · app-7")).check()
    page.locator("#split-reason").fill("different people after all: separate accounts")
    page.get_by_role("button", name="Preview split").click()
    expect(page.locator("#split-preview")).to_contain_text("1 records move to a new customer")
    page.get_by_role("button", name="Confirm split").click()
    expect(page.get_by_role("status")).to_contain_text("Split")
    lineage = page.locator("table", has=page.locator("th", has_text="Other customer"))
    expect(lineage).to_contain_text("merged")
    expect(lineage).to_contain_text("split")
    page.goto(f"{live.url}/console/customers/{a}")
    assert page.locator("svg.identity-graph circle.graph-record").count() == 2
    actions = [e.action for e in _events(live.app, customer_id=a) if e.action.startswith("identity.")]
    assert actions == ["identity.merge", "identity.split"]
    assert watch.problems() == []


def test_journey5_dsr_moves_through_states_refusal_needs_reason_overdue_marked(  # type: ignore[no-untyped-def]
    page, live, staff, customers, watch: Watch
) -> None:
    from cdp.rights.models import DsrRequest

    make_user(live.app.extensions["cdp"], "compliance-officer-2", "compliance_officer")
    sign_in(page, live.url, staff["compliance_officer"], PASSWORD, "data_subject_request")
    page.goto(f"{live.url}/console/compliance/dsr")
    page.get_by_label("Customer id").fill(customers["consenting"])
    page.get_by_label("Kind").select_option("access")
    page.get_by_role("button", name="Record request").click()
    expect(page.locator("#dsr-state")).to_have_text("received")
    expect(page.locator("#dsr-due")).to_contain_text("15 days left")
    page.get_by_role("button", name="Mark verified").click()
    expect(page.locator("#dsr-state")).to_have_text("verified")
    dsr_path = page.url.removeprefix(live.url)
    page.get_by_role("button", name="Refuse the request").click()  # no reason
    expect(page.get_by_role("alert")).to_contain_text("reason")
    page.go_back()
    page.reload()
    expect(page.locator("#dsr-state")).to_have_text("verified")
    # Four eyes: the officer who approves may not carry out the request; a second officer does.
    page.get_by_role("button", name="Approve (second person)").click()
    expect(page.get_by_role("button", name="Carry out the request")).to_be_visible()
    page.get_by_role("button", name="Carry out the request").click()
    expect(page.get_by_role("alert")).to_contain_text("approv")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live.url, "compliance-officer-2", PASSWORD, "data_subject_request")
    page.goto(f"{live.url}{dsr_path}")
    page.get_by_role("button", name="Carry out the request").click()
    expect(page.locator("#dsr-state")).to_have_text("completed")
    expect(page.locator("#dsr-token")).not_to_be_empty()
    timeline = page.locator("#timeline li")
    expect(timeline).to_have_count(4)
    expect(timeline.nth(0)).to_contain_text("dsr.receive")
    expect(timeline.nth(1)).to_contain_text("dsr.verify")
    expect(timeline.nth(2)).to_contain_text("dsr.approve")
    expect(timeline.nth(3)).to_contain_text("dsr.access_package")
    # A second request, refused with a reason.
    page.goto(f"{live.url}/console/compliance/dsr")
    page.get_by_label("Customer id").fill(customers["no_consent"])
    page.get_by_label("Kind").select_option("deletion")
    page.get_by_role("button", name="Record request").click()
    page.get_by_label("Reason for refusing").fill("requester could not prove their identity")
    page.get_by_role("button", name="Refuse the request").click()
    expect(page.locator("#dsr-state")).to_have_text("refused")
    # An overdue request is marked in the queue.
    with live.app.extensions["cdp"].transaction() as s:
        s.execute(update(DsrRequest).where(DsrRequest.status == "refused")
                  .values(status="received", due_at=utcnow() - timedelta(days=2)))
    page.goto(f"{live.url}/console/compliance/dsr")
    overdue = page.locator("#dsr-queue td.days-overdue")
    expect(overdue).to_have_count(1)
    expect(overdue).to_contain_text("Overdue")
    assert watch.problems() == []


def _copy_database(url: str) -> str:
    """A copy of the test database (the live server's connections are closed for it)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        src_path = url[len("sqlite:///"):]
        dst_path = src_path.replace(".db", "-copy.db")
        src, dst = sqlite3.connect(src_path), sqlite3.connect(dst_path)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return f"sqlite:///{dst_path}"
    import psycopg
    from psycopg import sql

    from tests.conftest import PG_ADMIN

    base, name = url.rsplit("/", 1)
    copy = f"{name}_copy"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(copy)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(copy), sql.Identifier(name)))
    return f"{base}/{copy}"


def _drop_copy(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg
        from psycopg import sql

        from tests.conftest import PG_ADMIN

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(url.rsplit("/", 1)[1])))


def test_journey6_compliance_finds_the_view_and_sees_chain_status(  # type: ignore[no-untyped-def]
    page, browser, live, staff, customers, console_config, watch: Watch
) -> None:
    import dataclasses

    from cdp.app import create_app
    from cdp.platform import Platform
    from tests.audit.helpers import tamper
    from tests.console.browser.conftest import LiveServer

    cid = customers["consenting"]
    agent = browser.new_page()
    sign_in(agent, live.url, staff["customer_service"], PASSWORD, "customer_support")
    agent.goto(f"{live.url}/console/customers/{cid}")
    expect(agent.locator("svg.identity-graph")).to_be_visible()
    agent.close()

    sign_in(page, live.url, staff["compliance_officer"], PASSWORD, "compliance_audit")
    page.goto(f"{live.url}/console/compliance/audit")
    expect(page.locator("#chain-result")).to_have_attribute("data-ok", "1")
    expect(page.locator("#chain-result")).to_have_class("status-green")
    page.get_by_label("Customer").fill(cid)
    page.get_by_label("Actor").fill("user:customer-service")
    page.get_by_label("Action").fill("customers.read")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#events tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("customer_support")
    expect(rows.first).to_contain_text("contact=masked")
    viewers = page.locator("table", has=page.locator("caption, th", has_text="Views"))
    expect(viewers).to_contain_text("user:customer-service")
    # Purpose is a filter of its own.
    page.goto(f"{live.url}/console/compliance/audit?purpose=customer_support&action=customers.read")
    expect(page.locator("#events tbody tr")).to_have_count(1)
    assert watch.problems() == []

    # The same page over a tampered copy of the database: red.
    copy_url = _copy_database(console_config.database_url)
    copy_cfg = dataclasses.replace(console_config, database_url=copy_url)
    copy_platform = Platform(copy_cfg)
    try:
        with copy_platform.transaction() as s:
            victim = s.scalar(select(AuditEvent.id).where(AuditEvent.action == "customers.read")
                              .order_by(AuditEvent.id).limit(1))
        tamper(copy_platform, "UPDATE audit_events SET purpose = 'marketing' WHERE id = :i", i=victim)
        copy_app = create_app(copy_cfg)
        with LiveServer(copy_app) as other:
            tampered = browser.new_page()
            sign_in(tampered, other.url, staff["compliance_officer"], PASSWORD, "compliance_audit")
            tampered.goto(f"{other.url}/console/compliance/audit")
            result = tampered.locator("#chain-result")
            expect(result).to_have_attribute("data-ok", "0")
            expect(result).to_have_class("status-red")
            expect(result).to_contain_text(f"id={victim}")
            tampered.close()
        copy_app.extensions["cdp"].dispose()
    finally:
        copy_platform.dispose()
        _drop_copy(copy_url)


def _admin_sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/mfa$"))
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r".*/console/admin/users$"))


def test_journey7_idle_timeout_and_revocation_sign_out(page, browser, live, staff, watch: Watch) -> None:  # type: ignore[no-untyped-def]
    platform = live.app.extensions["cdp"]
    sign_in(page, live.url, staff["customer_service"], PASSWORD, "customer_support")
    expect(page.get_by_label("Search customers")).to_be_visible()
    with platform.transaction() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.revoked_at.is_(None))
                  .values(last_seen_at=utcnow() - timedelta(minutes=16)))
    page.reload()
    page.wait_for_url(re.compile(r".*/console/login\?why=idle$"))
    expect(page.get_by_role("status")).to_contain_text("inactivity")

    sign_in(page, live.url, staff["customer_service"], PASSWORD, "customer_support")
    admin = browser.new_page()
    _admin_sign_in(admin, live.url, staff["admin"])
    admin.get_by_role("link", name="Sessions").click()
    row = admin.locator("tr[data-user='customer-service']")
    expect(row).to_have_count(1)
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(row).to_contain_text("Revoked")
    page.get_by_label("Search customers").fill("138 1234 5678")
    page.get_by_role("button", name="Search").click()  # htmx request: sent to sign in
    page.wait_for_url(re.compile(r".*/console/login\?why=revoked$"))
    expect(page.get_by_label("Username")).to_be_visible()
    with platform.transaction() as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.name == staff["customer_service"]))
        reasons = sorted(r for (r,) in s.execute(select(ConsoleSession.revoked_reason)
                                                 .where(ConsoleSession.user_id == user.id)))
    assert reasons == ["idle", "revoked_by_admin"]
    assert watch.problems() == []
    admin.close()

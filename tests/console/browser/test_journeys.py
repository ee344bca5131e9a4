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
from tests.console.helpers import PASSWORD

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

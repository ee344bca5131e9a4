"""Journey 8: every console page, for the role that uses it, passes the same checks —
zero axe-core violations, no CSP violation or console error, an htmx POST without the CSRF
token refused, and no API key or unmasked value in the HTML or in browser storage of a role
that must not see it."""

from __future__ import annotations

import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.console.browser.conftest import Watch, sign_in
from tests.console.browser.test_journeys import PLAIN_VALUES, _admin_sign_in, storage
from tests.console.helpers import PASSWORD

API_KEY = re.compile(r"cdp_[A-Za-z0-9]{4,}_[A-Za-z0-9_-]{8,}")
_axe = Axe()


def check_page(page: Any, watch: Watch, where: str, *, plain_allowed: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    results = _axe.run(page)
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                  for v in results.response["violations"]]
    assert violations == [], f"{where}: axe-core violations {violations}"
    html = page.content()
    stored = storage(page)
    assert not API_KEY.search(html) and not API_KEY.search(stored), f"{where}: an API key"
    if not plain_allowed:
        shown = [v for v in PLAIN_VALUES if v in html or v in stored]
        assert shown == [], f"{where}: unmasked values {shown}"
    assert watch.problems() == [], f"{where}: {watch.problems()}"


def htmx_post_without_token_refused(page: Any, base: str) -> None:
    status = page.evaluate(
        "async (url) => (await fetch(url, {method: 'POST', headers: {'HX-Request': 'true'},"
        " credentials: 'same-origin'})).status", f"{base}/console/logout")
    assert status == 400
    still = page.evaluate("async (url) => (await fetch(url)).status", f"{base}/console/")
    assert still == 200  # the forged request changed nothing: still signed in
    page.evaluate("window.__dummy = 1")


def visit(page: Any, watch: Watch, base: str, paths: list[str], **kw: Any) -> None:
    for path in paths:
        resp = page.goto(base + path)
        assert resp is not None and resp.status == 200, f"{path}: {resp.status if resp else None}"
        check_page(page, watch, path, **kw)


def test_journey8_every_page_accessible_strict_and_leak_free(  # type: ignore[no-untyped-def]
    browser, live, staff, customers
) -> None:
    base = live.url
    cid, other = customers["consenting"], customers["no_consent"]

    def fresh() -> tuple[Any, Watch]:
        ctx = browser.new_context(locale="en-GB")
        p = ctx.new_page()
        w = Watch()
        w.attach(p)
        return p, w

    page, watch = fresh()
    visit(page, watch, base, ["/console/login"])
    zh = page.context.browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    zp = zh.new_page()
    zw = Watch()
    zw.attach(zp)
    visit(zp, zw, base, ["/console/login"])
    expect(zp.get_by_label("用户名")).to_be_visible()
    zh.close()

    per_role: dict[str, tuple[str | None, list[str]]] = {
        "customer_service": ("customer_support", [
            "/console/", f"/console/customers/{cid}",
            f"/console/customers/{cid}/break-glass", "/console/purpose"]),
        "pharmacist": ("pharmacy_care", [f"/console/customers/{cid}", f"/console/customers/{other}"]),
        "marketing": ("marketing", ["/console/", f"/console/customers/{cid}", "/console/analytics",
                                  "/console/analytics/segments/statin_users"]),
        "analyst": ("analytics", ["/console/analytics"]),
        "data_steward": ("customer_support", [
            "/console/steward", f"/console/steward?customer={cid}&other={other}",
            f"/console/customers/{cid}"]),
        "compliance_officer": ("compliance_audit", [
            "/console/compliance/audit", f"/console/compliance/audit?customer_id={cid}",
            "/console/compliance/retention", f"/console/customers/{cid}"]),
    }
    for role, (purpose, paths) in per_role.items():
        page, watch = fresh()
        sign_in(page, base, staff[role], PASSWORD, purpose)
        visit(page, watch, base, paths)
        if role == "customer_service":
            page.goto(f"{base}/console/")
            page.get_by_label("Search customers").fill("13812345678")
            page.get_by_role("button", name="Search").click()
            expect(page.locator("#results a").first).to_be_visible()
            check_page(page, watch, "search results")
        htmx_post_without_token_refused(page, base)
        page.context.close()

    # Compliance working data subject requests: the purpose changed on the way.
    page, watch = fresh()
    sign_in(page, base, staff["compliance_officer"], PASSWORD, "compliance_audit")
    page.get_by_role("link", name="Change").click()
    page.get_by_label("Purpose of use").select_option("data_subject_request")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#purpose-banner")).to_contain_text("data_subject_request")
    visit(page, watch, base, ["/console/compliance/dsr"])
    page.get_by_label("Customer id").fill(cid)
    page.get_by_role("button", name="Record request").click()
    check_page(page, watch, "dsr detail")
    page.context.close()

    # Steward previews (htmx fragments) and the admin pages (second factor).
    page, watch = fresh()
    sign_in(page, base, staff["data_steward"], PASSWORD, "customer_support")
    page.goto(f"{base}/console/steward?customer={cid}&other={other}")
    page.get_by_role("button", name="Preview merge").click()
    expect(page.locator("#merge-preview")).to_contain_text("source records")
    check_page(page, watch, "merge preview")
    page.context.close()

    page, watch = fresh()
    page.goto(f"{base}/console/login")
    page.get_by_label("Username").fill(staff["admin"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    check_page(page, watch, "/console/mfa")
    page.context.close()
    page, watch = fresh()
    _admin_sign_in(page, base, staff["admin"])
    visit(page, watch, base, ["/console/admin/users", "/console/admin/sessions", "/console/admin/policy"])
    htmx_post_without_token_refused(page, base)
    page.context.close()

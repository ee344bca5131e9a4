"""Screen 7 in a real browser: marketing sees segment sizes and the members it may contact
(marketing consent; marketing_health too for a segment over health traits), an analyst sees
the charts with small counts suppressed and never a member. Each page passes journey 8's
checks: zero axe-core violations, no CSP violation or console error, no API key or
unmasked value."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.console.browser.conftest import Watch, sign_in
from tests.console.browser.test_every_page import check_page
from tests.console.helpers import PASSWORD


def _member_ids(page: Any) -> set[str]:
    return {str(t).strip() for t in page.locator("#members tbody th a").all_inner_texts()}


def test_journey_marketing_segments_and_members_analyst_aggregates_only(  # type: ignore[no-untyped-def]
    page, browser, live, staff, crm_population, watch: Watch
) -> None:
    base = live.url
    sign_in(page, base, staff["marketing"], PASSWORD, "marketing")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    page.wait_for_url(re.compile(r".*/console/analytics$"))
    row = page.locator("#segments tbody tr", has=page.get_by_role(
        "rowheader", name="marketplace_buyers", exact=True))
    expect(row.locator("td").nth(2)).to_have_text("12")
    expect(page.locator("svg.chart").first).to_be_visible()
    check_page(page, watch, "analytics (marketing)")

    page.get_by_role("link", name="Members of marketplace_buyers").click()
    page.wait_for_url(re.compile(r".*/segments/marketplace_buyers$"))
    assert _member_ids(page) == set(crm_population["both"] + crm_population["marketing"])
    expect(page.locator("#held-back")).to_have_text("2")
    check_page(page, watch, "members of a plain segment")

    page.goto(f"{base}/console/analytics")
    page.get_by_role("link", name="Members of statin_users").click()
    page.wait_for_url(re.compile(r".*/segments/statin_users$"))
    expect(page.locator("#member-rule")).to_contain_text("marketing_health")
    assert _member_ids(page) == set(crm_population["both"])  # the others lack marketing_health
    check_page(page, watch, "members of a health segment")
    for cid in crm_population["none"]:
        assert cid not in page.content()

    analyst = browser.new_page()
    awatch = Watch()
    awatch.attach(analyst)
    sign_in(analyst, base, staff["analyst"], PASSWORD, "analytics")
    analyst.wait_for_url(re.compile(r".*/console/analytics$"))  # the analyst's landing page
    assert analyst.locator("svg.chart").count() >= 8
    retention = analyst.locator("#ch-retention table")
    expect(retention).to_contain_text("< 10")  # 12 customers over five value scores
    assert analyst.locator("#ch-retention svg rect[fill='#d0d0d0']").count() >= 1
    expect(analyst.get_by_role("link", name=re.compile("Members"))).to_have_count(0)
    html = analyst.content()
    assert not [cid for cid in sum(crm_population.values(), []) if cid in html]
    check_page(analyst, awatch, "analytics (analyst)")
    refused = analyst.goto(f"{base}/console/analytics/segments/marketplace_buyers")
    assert refused is not None and refused.status == 403
    assert not [cid for cid in sum(crm_population.values(), []) if cid in analyst.content()]
    analyst.close()

"""The console's pure parts: identifier detection, OIDC role mapping, console policy,
chart suppression, the identity graph picture."""

from __future__ import annotations

import pytest

from cdp.console.charts import bar_chart, suppress
from cdp.console.graph import Edge, render_svg
from cdp.console.oidc import account_name, oidc_settings, role_from_claims
from cdp.console.search import detect
from cdp.console.settings import ConsolePolicyError, console_policy, parse_console_policy
from cdp.errors import Forbidden
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR

ROLES = {"customer_service", "pharmacist", "admin", "analyst"}


@pytest.mark.parametrize(("typed", "kind"), [
    ("+86 138 1234 5678", "phone"), ("138-1234-5678", "phone"), ("13812345678", "phone"),
    (" ZhangSF@Example.com ", "email"), ("11010519850412703X", "national_id"),
    ("110105 19850412 703x", "national_id"), ("M20261234", "member_id"),
    ("01a24a0661e17196845d8f91fb2a2c15", "customer_id"), ("", None), ("!!", None),
])
def test_search_works_out_the_identifier_type(typed: str, kind: str | None) -> None:
    assert detect(typed) == kind


def test_console_policy_file_loads_and_bad_values_are_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = console_policy(PolicyFiles(POLICY_DIR))
    assert policy.idle.total_seconds() == 15 * 60 and policy.absolute.total_seconds() == 12 * 3600
    assert policy.needs_mfa("admin") and not policy.needs_mfa("pharmacist")
    assert policy.oidc_roles["cdp-pharmacists"] == "pharmacist"
    with pytest.raises(ConsolePolicyError, match="wizard"):
        parse_console_policy({"mfa": {"roles": ["wizard"]}}, ROLES)
    with pytest.raises(ConsolePolicyError, match="idle_minutes"):
        parse_console_policy({"sessions": {"idle_minutes": 900, "absolute_hours": 1}}, ROLES)


def test_oidc_claims_map_to_exactly_one_role() -> None:
    policy = parse_console_policy(
        {"oidc": {"role_claim": "groups", "roles": {"rx": "pharmacist", "cs": "customer_service"}}},
        ROLES)
    assert role_from_claims({"groups": ["staff", "rx"]}, policy) == "pharmacist"
    assert role_from_claims({"groups": "cs"}, policy) == "customer_service"
    with pytest.raises(Forbidden):
        role_from_claims({"groups": ["rx", "cs"]}, policy)  # two roles: refused
    with pytest.raises(Forbidden):
        role_from_claims({"groups": ["staff"]}, policy)
    assert account_name({"preferred_username": "Wang.Li@corp.example"}) == "wang.li"
    assert account_name({"email": "9lives@corp.example"}) == "u-9lives"
    assert oidc_settings({}) is None
    s = oidc_settings({"CDP_OIDC_ISSUER": "https://idp.example/", "CDP_OIDC_CLIENT_ID": "c",
                       "CDP_OIDC_CLIENT_SECRET": "s"})
    assert s is not None and s.issuer == "https://idp.example"


def test_small_counts_are_suppressed_in_charts() -> None:
    points = suppress([("jd_health", 120), ("store", 3), ("app", 0)], 10)
    assert [(p.value, p.suppressed) for p in points] == [(120, False), (0, True), (0, False)]
    svg = str(bar_chart("Customers per channel", points, chart_id="c1"))
    assert "store: suppressed" in svg and "store: 3" not in svg
    assert "style=" not in svg and "<script" not in svg


def test_grouped_bars_one_colour_per_series_suppressed_grey_labels_escaped() -> None:
    from cdp.console.charts import SERIES, SUPPRESSED, Point, Series, grouped_bar_chart

    svg = str(grouped_bar_chart("Complaints <b>", [
        Series("Complaints", [Point("delivery · app", 14), Point("<x>", 0, True)]),
        Series("Resolved in time", [Point("delivery · app", 12), Point("<x>", 0, True)]),
    ], chart_id="g1"))
    assert svg.count(f'fill="{SERIES[0]}"') == 2 and svg.count(f'fill="{SERIES[1]}"') == 2  # bar + legend
    assert svg.count(f'fill="{SUPPRESSED}"') == 2
    assert "&lt;x&gt;, Complaints: suppressed" in svg and "<x>" not in svg and "<b>" not in svg
    assert "delivery · app, Resolved in time: 12" in svg
    assert "style=" not in svg and "<script" not in svg


def test_identity_graph_draws_one_labelled_edge_per_record() -> None:
    edges = [Edge("jd_health", "jd-1", "new", (), 3),
             Edge("wechat", "wx-1", "deterministic:phone", ("phone",), 1),
             Edge("app", "a<b>", "probabilistic", ("name", "birth_date"), 2)]
    svg = str(render_svg("张**", edges))
    assert svg.count('class="graph-record"') == 3 and svg.count('class="graph-edge"') == 3
    assert "deterministic:phone [phone]" in svg and "probabilistic [name, birth_date]" in svg
    assert "a&lt;b&gt;" in svg and "a<b>" not in svg  # escaped
    assert 'role="img"' in svg and "<title" in svg and "style=" not in svg


def test_many_records_are_drawn_by_channel_with_rule_counts() -> None:
    edges = [Edge(f"ch{i % 3}", f"r-{i}", "deterministic:phone", ("phone",), 2) for i in range(30)]
    svg = str(render_svg("张**", edges))
    assert svg.count('class="graph-channel"') == 3  # one node per channel
    assert svg.count('class="graph-record"') == 30  # a dot per record, each with its id
    assert svg.count("deterministic:phone [phone] ×10") == 3
    assert "style=" not in svg

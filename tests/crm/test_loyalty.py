"""Loyalty ledger invariants: no double accrual on re-ingest, corrections by new entries,
a balance never negative, expiry and spending oldest first, tiers up at once and down at
the end of the period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from cdp.crm import loyalty
from cdp.crm.models import LoyaltyAccount, LoyaltyEntry
from cdp.crm.settings import load_settings
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR
from tests.crm.helpers import fill, ingest_records, order, otc, person, run_cli

NOW = datetime.now(UTC)


def _at(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _entries(platform, cid):  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        return [(e.kind, e.points) for e in s.scalars(
            select(LoyaltyEntry).where(LoyaltyEntry.customer_id == cid).order_by(LoyaltyEntry.id))]


def _balance(platform, cid) -> int:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        return loyalty.balance(s, cid)


def test_reingest_never_accrues_twice_and_corrections_adjust(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    rec = person([order("L1", _at(300), [otc(100.0)], total=100.0),
                  order("L2", _at(100), [otc(50.0), fill("C10AA05", 30, price=80.0)], total=130.0)],
                 record_id="loyal-1")
    [cid] = ingest_records(client, make_api_key, [rec])
    run_cli(cli_env, "crm", "refresh")
    # prescription items earn nothing (policy exclude_rx): 100 + 50
    assert _entries(platform, cid) == [("accrual", 100), ("accrual", 50)]
    ingest_records(client, make_api_key, [rec])  # the same record again
    rec2 = {**rec, "observed_at": "2025-02-01T00:00:00+08:00"}  # re-sent, unchanged orders
    ingest_records(client, make_api_key, [rec2])
    run_cli(cli_env, "crm", "refresh")
    run_cli(cli_env, "crm", "refresh")
    assert _entries(platform, cid) == [("accrual", 100), ("accrual", 50)]
    # the channel corrects order L1 to 80: one adjustment of -20, nothing rewritten
    fixed = {**rec2, "orders": [order("L1", _at(300), [otc(80.0)], total=80.0), rec["orders"][1]]}
    ingest_records(client, make_api_key, [fixed])
    run_cli(cli_env, "crm", "refresh")
    run_cli(cli_env, "crm", "refresh")
    assert _entries(platform, cid) == [("accrual", 100), ("accrual", 50), ("adjustment", -20)]
    assert _balance(platform, cid) == 130


def test_balance_never_negative(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    rec = person([order("N1", _at(30), [otc(100.0)], total=100.0)], record_id="neg-1")
    [cid] = ingest_records(client, make_api_key, [rec])
    run_cli(cli_env, "crm", "refresh")
    headers = make_api_key("customer_service", "customer_support")
    r = client.post(f"/v1/customers/{cid}/loyalty/redeem", json={"points": 101}, headers=headers)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "insufficient_points"
    r = client.post(f"/v1/customers/{cid}/loyalty/redeem",
                    json={"points": 90, "idempotency_key": "k1"}, headers=headers)
    assert r.status_code == 201 and r.get_json()["balance"] == 10
    r = client.post(f"/v1/customers/{cid}/loyalty/redeem",  # a retry: no second redemption
                    json={"points": 90, "idempotency_key": "k1"}, headers=headers)
    assert r.status_code == 201 and r.get_json()["balance"] == 10
    for bad in ({"points": 0}, {"points": "ten"}, {}, {"points": 5, "extra": 1}):
        r = client.post(f"/v1/customers/{cid}/loyalty/redeem", json=bad, headers=headers)
        assert r.status_code == 422, bad
    # the order is corrected down to 20 after 90 points were spent: the correction takes
    # what is left (10), not 80
    ingest_records(client, make_api_key, [{**rec, "observed_at": "2025-03-01T00:00:00+08:00",
                                           "orders": [order("N1", _at(30), [otc(20.0)], total=20.0)]}])
    run_cli(cli_env, "crm", "refresh")
    assert _balance(platform, cid) == 0
    assert _entries(platform, cid)[-1] == ("adjustment", -10)
    r = client.get(f"/v1/customers/{cid}/loyalty", headers=headers)
    assert r.status_code == 200 and r.get_json()["balance"] == 0
    assert [e["kind"] for e in r.get_json()["ledger"]] == ["adjustment", "redemption", "accrual"]


def test_expiry_and_spending_take_the_oldest_points(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest_records(client, make_api_key, [person([
        order("X1", _at(300), [otc(100.0)], total=100.0),   # expires in 65 days
        order("X2", _at(100), [otc(50.0)], total=50.0),     # expires in 265 days
    ], record_id="exp-1")])
    run_cli(cli_env, "crm", "refresh")
    with platform.transaction() as s:
        loyalty.redeem(s, cid, 30, actor="test", now=NOW)  # from the oldest lot: 70 left there
    with platform.transaction() as s:
        assert loyalty.expire_due(s, [cid], NOW + timedelta(days=64)) == 0
    with platform.transaction() as s:
        assert loyalty.expire_due(s, [cid], NOW + timedelta(days=66)) == 1
    with platform.transaction() as s:  # idempotent
        assert loyalty.expire_due(s, [cid], NOW + timedelta(days=66)) == 0
    assert _entries(platform, cid)[-1] == ("expiry", -70)
    assert _balance(platform, cid) == 50
    with platform.transaction() as s:  # a lot spent in full expires with 0 points
        loyalty.redeem(s, cid, 50, actor="test", now=NOW + timedelta(days=67))
        assert loyalty.balance(s, cid) == 0
    with platform.transaction() as s:
        assert loyalty.expire_due(s, None, NOW + timedelta(days=300)) == 1
        assert loyalty.expire_due(s, None, NOW + timedelta(days=300)) == 0
    assert _entries(platform, cid)[-2:] == [("redemption", -50), ("expiry", 0)]
    assert _balance(platform, cid) == 0
    with platform.transaction() as s:
        n = s.scalar(select(func.count()).select_from(LoyaltyEntry).where(
            LoyaltyEntry.customer_id == cid, LoyaltyEntry.points < 0))
    assert n == 3


def test_tier_up_at_once_down_at_period_end(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(PolicyFiles(POLICY_DIR))
    [cid] = ingest_records(client, make_api_key, [person(
        [order("T1", _at(5), [otc(600.0)], total=600.0)], record_id="tier-1")])
    run_cli(cli_env, "crm", "refresh")
    today = NOW.astimezone(settings.tz).date()
    with platform.transaction() as s:
        acc = s.get(LoyaltyAccount, cid)
        assert acc.tier == "silver" and acc.tier_until == today + timedelta(days=365)
    # a year later the points have left the trailing window; the tier holds to its end
    with platform.transaction() as s:
        assert loyalty.update_tiers(s, settings, [cid], today + timedelta(days=364))[cid] == "silver"
    with platform.transaction() as s:
        assert loyalty.update_tiers(s, settings, [cid], today + timedelta(days=365))[cid] == "member"


def test_birthday_list_needs_marketing_consent(client, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(PolicyFiles(POLICY_DIR))
    soon = NOW.astimezone(settings.tz).date() + timedelta(days=3)
    birth = date(1980, soon.month, min(soon.day, 28)).isoformat()
    yes, no = ingest_records(client, make_api_key, [
        person([order("B1", _at(20), [otc(10.0)])], consents={"marketing": True},
               profile={"birth_date": birth}),
        person([order("B2", _at(20), [otc(10.0)])], consents={"marketing": False},
               profile={"birth_date": birth}),
    ])
    run_cli(cli_env, "crm", "refresh")
    r = client.get("/v1/crm/birthdays?days=7", headers=make_api_key("marketing", "marketing"))
    assert r.status_code == 200
    listed = [c["customer_id"] for c in r.get_json()["customers"]]
    assert yes in listed and no not in listed

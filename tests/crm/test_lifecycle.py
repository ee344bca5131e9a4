"""CRM rows through merges, splits, access packages and erasure (through the real API and
the hooks the assembly registers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cdp.crm import loyalty
from cdp.crm.models import (
    CareTask,
    Complaint,
    ComplaintEvent,
    CrmProfile,
    LoyaltyAccount,
    LoyaltyEntry,
    SegmentMember,
)
from cdp.rights.erasure import erase_customer
from cdp.rights.package import build_package, package_csv
from tests.crm.helpers import fill, ingest_records, order, otc, person, run_cli

NOW = datetime.now(UTC)
CRM_MODELS = (LoyaltyEntry, LoyaltyAccount, Complaint, CareTask, SegmentMember, CrmProfile)


def _at(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _rows(platform: Any, model: Any, cid: str) -> int:
    with platform.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(model.customer_id == cid)) or 0)


def _entries(platform: Any, cid: str) -> list[tuple[int, str, int]]:
    with platform.transaction() as s:
        return [(e.id, e.kind, e.points) for e in s.scalars(
            select(LoyaltyEntry).where(LoyaltyEntry.customer_id == cid).order_by(LoyaltyEntry.id))]


def _balance(platform: Any, cid: str) -> int:
    with platform.transaction() as s:
        return loyalty.balance(s, cid)


def _open_stays(platform: Any, cid: str) -> list[str]:
    with platform.transaction() as s:
        return sorted(s.scalars(select(SegmentMember.segment).where(
            SegmentMember.customer_id == cid, SegmentMember.left_at.is_(None))))


def _tier(platform: Any, cid: str) -> str | None:
    with platform.transaction() as s:
        acc = s.get(LoyaltyAccount, cid)
        return acc.tier if acc else None


def test_merge_moves_crm_rows_and_a_split_gives_them_back(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    a = person([order("MA1", _at(40), [otc(300.0)], total=300.0)], record_id="m-a")
    b = person([order("MB1", _at(20), [otc(2500.0)], total=2500.0)], record_id="m-b",
               interactions=[{"kind": "complaint", "at": _at(10), "text": "配送太慢了"}])
    ca, cb = ingest_records(client, make_api_key, [a, b])
    assert ca != cb
    run_cli(cli_env, "crm", "refresh")
    cs = make_api_key("customer_service", "customer_support")
    r = client.post(f"/v1/customers/{cb}/loyalty/redeem", json={"points": 2400}, headers=cs)
    assert r.status_code == 201, r.get_json()
    b_entries, a_entries = _entries(platform, cb), _entries(platform, ca)
    assert _tier(platform, cb) == "gold" and _tier(platform, ca) == "member"
    a_stays, b_stays = _open_stays(platform, ca), _open_stays(platform, cb)
    assert set(a_stays) & set(b_stays)  # both in some segment: one stay must remain

    steward = make_api_key("data_steward")
    r = client.post(f"/v1/customers/{ca}/merge", headers=steward,
                    json={"other_customer_id": cb, "reason": "same person, checked by phone"})
    assert r.status_code == 200, r.get_json()
    for model in CRM_MODELS:
        assert _rows(platform, model, cb) == 0, model.__name__
    # re-keyed: the same entries (ids, kinds, points), now A's
    assert _entries(platform, ca) == sorted(a_entries + b_entries)
    assert _balance(platform, ca) == 300 + 100
    assert _tier(platform, ca) == "gold"  # the higher of the two
    assert _rows(platform, Complaint, ca) == 1
    stays = _open_stays(platform, ca)
    assert len(stays) == len(set(stays)) and set(stays) == set(a_stays) | set(b_stays)

    # the next refresh neither accrues B's order again nor duplicates a stay
    run_cli(cli_env, "crm", "refresh")
    assert _entries(platform, ca) == sorted(a_entries + b_entries)
    stays = _open_stays(platform, ca)
    assert len(stays) == len(set(stays))

    # split B's record off again: its order's accrual goes with it; A keeps the redemption,
    # so a transfer evens A's balance from the new customer's (the sum is unchanged)
    r = client.post(f"/v1/customers/{ca}/split", headers=steward,
                    json={"record_ids": ["m-b"], "reason": "not the same person after all"})
    assert r.status_code == 200, r.get_json()
    cn = r.get_json()["customer_id"]
    accrual_b = [e for e in b_entries if e[1] == "accrual"]
    assert [e for e in _entries(platform, cn) if e[1] == "accrual"] == accrual_b
    assert _balance(platform, ca) >= 0 and _balance(platform, cn) >= 0
    assert _balance(platform, ca) + _balance(platform, cn) == 400
    assert [k for _, k, _ in _entries(platform, cn)].count("transfer") == 1
    assert _rows(platform, Complaint, cn) == 1 and _rows(platform, Complaint, ca) == 0
    run_cli(cli_env, "crm", "refresh")  # both recomputed; nothing accrues twice
    assert _balance(platform, ca) + _balance(platform, cn) == 400


def test_a_merge_by_ingest_moves_the_ledger(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    a = person([order("IA1", _at(40), [otc(120.0)], total=120.0)], record_id="i-a", phone="13911110001")
    b = person([order("IB1", _at(30), [otc(80.0)], total=80.0)], record_id="i-b", phone="13911110002")
    ca, cb = ingest_records(client, make_api_key, [a, b])
    run_cli(cli_env, "crm", "refresh")
    assert _balance(platform, ca) == 120 and _balance(platform, cb) == 80
    # a record carrying both phones joins the two
    both = person([order("IC1", _at(5), [otc(10.0)], total=10.0)], record_id="i-c", phone="13911110001")
    both["identifiers"].append({"type": "phone", "value": "13911110002"})
    [cc] = ingest_records(client, make_api_key, [both])
    assert cc in (ca, cb)
    gone = cb if cc == ca else ca
    assert _rows(platform, LoyaltyEntry, gone) == 0 and _rows(platform, LoyaltyAccount, gone) == 0
    assert _balance(platform, cc) == 200
    run_cli(cli_env, "crm", "refresh")
    assert _balance(platform, cc) == 210


def test_access_package_and_erasure_cover_crm_rows(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    rec = person([order("P1", _at(200), [fill("C10AA05", 90)], total=30.0),
                  order("P2", _at(100), [fill("C10AA05", 90), otc(60.0)], total=90.0)],
                 record_id="pkg-1", consents={"care_reminders": True},
                 interactions=[{"kind": "complaint", "at": _at(3), "text": "药品包装破损"}])
    [cid] = ingest_records(client, make_api_key, [rec])
    run_cli(cli_env, "crm", "refresh")
    with platform.transaction() as s:
        pkg = build_package(s, platform, cid)
    crm = pkg["crm"]
    assert crm["profile"]["frequency"] == 2 and "statins" in crm["profile"]["drug_classes"]
    assert crm["profile"]["adherence"] or crm["profile"]["refills"]
    assert crm["loyalty"]["balance"] == 60 and [e["kind"] for e in crm["loyalty"]["ledger"]] == ["accrual"]
    assert crm["complaints"][0]["history"][0]["to"] == "open"
    assert {s["segment"] for s in crm["segment_stays"]} == set(crm["profile"]["segments"])
    text = package_csv(pkg)
    assert "\ncrm,profile.frequency,2," in text and "\ncrm,loyalty.balance,60," in text

    with platform.transaction() as s:
        res = erase_customer(s, platform, cid, rx_keep=timedelta(days=3650), actor="test")
    assert res.derived_rows_deleted["crm_loyalty_entries"] == 1
    assert res.derived_rows_deleted["crm_complaints"] == 1
    for model in CRM_MODELS:
        assert _rows(platform, model, cid) == 0, model.__name__
    with platform.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ComplaintEvent)) == 0


def test_atc_and_days_supply_shown_to_roles_that_see_prescriptions(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest_records(client, make_api_key, [person(
        [order("V1", _at(10), [fill("C10AA05", 28), otc(12.0)], total=42.0)], record_id="view-1")])
    r = client.get(f"/v1/customers/{cid}", headers=make_api_key("pharmacist", "pharmacy_care"))
    assert r.status_code == 200
    [rx] = r.get_json()["prescriptions"]
    assert rx["view"] == "plain"
    assert rx["items"][0]["atc"] == "C10AA05" and rx["items"][0]["days_supply"] == 28
    assert "atc" not in rx["items"][1]  # the channel sent none for this item
    # masked (compliance officer): which orders, not what was bought
    r = client.get(f"/v1/customers/{cid}", headers=make_api_key("compliance_officer", "compliance_audit"))
    [rx] = r.get_json()["prescriptions"]
    assert rx["view"] == "masked" and all("atc" not in it and "days_supply" not in it for it in rx["items"])


def test_erasure_keeps_adverse_drug_reaction_reports_under_a_retention_key(
    client, make_api_key, cli_env, platform
) -> None:  # type: ignore[no-untyped-def]
    """A pharmacy must keep its ADR reports and files: erasure keeps the ADR tickets (with
    what the customer said, from an interaction or typed into the ticket) under a retention
    key, readable by compliance only, and deletes every other ticket with the rest."""
    from cdp.rights.erasure import read_retained

    rec = person([order("A1", _at(30), [otc(20.0)], total=20.0)], record_id="adr-1",
                 interactions=[{"kind": "complaint", "at": _at(2), "text": "吃了这个药以后全身皮疹"},
                               {"kind": "complaint", "at": _at(1), "text": "快递太慢了"}])
    [cid] = ingest_records(client, make_api_key, [rec])
    run_cli(cli_env, "crm", "refresh")  # opens the tickets of the complaint interactions
    r = client.post("/v1/crm/complaints", headers=make_api_key("pharmacist", "pharmacy_care"),
                    json={"customer_id": cid, "category": "adverse_drug_reaction",
                          "description": "服药后头晕，已停药",
                          # learned of weeks before the ticket was typed in
                          "adr": {"serious": True, "learned_on": _at(40)[:10]}})
    assert r.status_code == 201, r.get_json()
    with platform.transaction() as s:
        cats = sorted(s.scalars(select(Complaint.category).where(Complaint.customer_id == cid)))
        pkg = build_package(s, platform, cid)
    assert cats == ["adverse_drug_reaction", "adverse_drug_reaction", "delivery"]
    # the access package shows what the customer typed into the ticket
    assert "服药后头晕，已停药" in [c.get("description") for c in pkg["crm"]["complaints"]]

    with platform.transaction() as s:
        res = erase_customer(s, platform, cid, rx_keep=timedelta(days=3650), actor="test")
    assert res.retained == 2 and res.derived_rows_deleted["crm_complaints"] == 3
    assert _rows(platform, Complaint, cid) == 0
    with platform.transaction() as s:
        kept = read_retained(s, platform, cid)
    assert [k["reason"] for k in kept] == ["adr_record_retention"] * 2
    assert {k["category"] for k in kept} == {"health"}
    texts = sorted(str(k["record"].get("interaction", {}).get("text"))
                   + str(k["record"]["complaint"].get("description")) for k in kept)
    assert texts == ["None服药后头晕，已停药", "吃了这个药以后全身皮疹None"]
    for k in kept:
        c = k["record"]["complaint"]
        assert c["category"] == "adverse_drug_reaction" and c["history"][0]["to"] == "open"
        assert c["adr"]["report_due_on"]
        learned = datetime.fromisoformat(c["adr"]["learned_on"]).replace(tzinfo=UTC)
        # counted from the day learned, not from the ticket's opening
        assert datetime.fromisoformat(k["keep_until"]) - learned == timedelta(days=1827)
    # the delivery complaint's text is gone with the customer's keys: nowhere in what is kept
    assert "快递" not in str(kept)


def test_free_text_retention_keeps_the_text_of_an_adverse_reaction_report(
    client, make_api_key, cli_env, platform
) -> None:  # type: ignore[no-untyped-def]
    """Free text goes after three years (retention.toml), but the interaction an ADR ticket
    was opened from is the report's narrative: it stays while the ticket is within
    ``adr_keep_days``, and goes after."""
    from cdp.identity.models import Interaction
    from cdp.rights.retention import run_retention

    rec = person([order("R1", _at(1500), [otc(20.0)], total=20.0)], record_id="hold-1",
                 interactions=[{"kind": "complaint", "at": _at(1400), "text": "服药后过敏起皮疹"},
                               {"kind": "complaint", "at": _at(1400), "text": "快递太慢了"},
                               {"kind": "note", "at": _at(1400), "text": "来电咨询"}])
    [cid] = ingest_records(client, make_api_key, [rec])
    run_cli(cli_env, "crm", "refresh")
    with platform.transaction() as s:
        adr_it = s.scalar(select(Complaint.interaction_id).where(
            Complaint.customer_id == cid, Complaint.category == "adverse_drug_reaction"))
    assert adr_it is not None
    out = run_retention(platform, actor="test")
    assert out["interactions_deleted"] == 2 and out["interactions_held"] == 1
    assert _rows(platform, Interaction, cid) == 1
    # a second capability holding the same text: still one interaction held, not two
    from cdp.rights import hooks

    hooks.add_interaction_hold("test_same_text", lambda s, p, now: select(Interaction.id).where(
        Interaction.id == adr_it))
    try:
        out = run_retention(platform, actor="test")
    finally:
        del hooks.INTERACTION_HOLDS["test_same_text"]
    assert out["interactions_deleted"] == 0 and out["interactions_held"] == 1
    with platform.transaction() as s:
        assert s.scalar(select(Interaction.id).where(Interaction.customer_id == cid)) == adr_it
    # once the report's own retention has run out, its text goes too
    out = run_retention(platform, actor="test", now=NOW + timedelta(days=1827 - 1400 + 2))
    assert out["interactions_deleted"] == 1 and out["interactions_held"] == 0
    assert _rows(platform, Interaction, cid) == 0

"""PDC (PQA) against worked cases built by hand, one per rule, through ingest and the CLI
on the real database; refill due dates and the care_reminders gate of `cdp crm reminders`."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from cdp.crm.adherence import Fill, adherence, refills_due
from tests.crm.helpers import fill, ingest_records, order, person, run_cli

CLASSES = {"statins": ["C10AA"], "ras": ["C09"], "diabetes": ["A10B"]}


def at(day: str) -> str:
    return f"{day}T10:00:00+08:00"


# name -> (orders, expected rows {class: (fills, pdc, adherent)}), worked by hand below.
CASES = {
    # Same drug refilled early: Jul 1 + 90 days covers Jul 1-Sep 28; the Sep 15 refill starts
    # Sep 29 and covers to Dec 27. Period Jul 1-Dec 31 = 184 days; covered 180. 180/184.
    "same_drug_shift": (
        [order("A1", at("2025-07-01"), [fill("C10AA05", 90)]),
         order("A2", at("2025-09-15"), [fill("C10AA05", 90)])],
        {"statins": (2, 0.9783, True)},
    ),
    # Switch within the class: atorvastatin Oct 1 (30 d: Oct 1-30), rosuvastatin Oct 20
    # (30 d: Oct 20-Nov 18) is another drug, not shifted; the overlap counts once.
    # Covered Oct 1-Nov 18 = 49 days of Oct 1-Dec 31 = 92. 49/92.
    "switch_in_class": (
        [order("B1", at("2025-10-01"), [fill("C10AA05", 30)]),
         order("B2", at("2025-10-20"), [fill("C10AA07", 30)])],
        {"statins": (2, 0.5326, False)},
    ),
    # Two RAS drugs taken together, both filled Nov 1 and Dec 1 for 30 days: each day counts
    # once. Covered Nov 1-30 and Dec 1-30 = 60 of Nov 1-Dec 31 = 61 days. 60/61.
    "concurrent_drugs": (
        [order("C1", at("2025-11-01"), [fill("C09CA03", 30), fill("C09CA04", 30)]),
         order("C2", at("2025-12-01"), [fill("C09CA03", 30), fill("C09CA04", 30)])],
        {"ras": (4, 0.9836, True)},
    ),
    # One fill in the year, and two fills on the same date: neither class qualifies.
    "one_fill_only": (
        [order("D1", at("2025-05-01"), [fill("A10BA02", 30)]),
         order("D2", at("2025-06-01"), [fill("C09CA03", 30)]),
         order("D3", at("2025-06-01"), [fill("C09CA03", 30)])],
        {},
    ),
    # A fill before the year is left out (even its supply into January): the index is Mar 1;
    # Mar 1-30 and Apr 1-30 covered, 60 of Mar 1-Dec 31 = 306 days. 60/306.
    "fills_before_year": (
        [order("E0", at("2024-12-15"), [fill("C10AA05", 90)]),
         order("E1", at("2025-03-01"), [fill("C10AA05", 30)]),
         order("E2", at("2025-04-01"), [fill("C10AA05", 30)])],
        {"statins": (2, 0.1961, False)},
    ),
    # Supply past 31 December is cut: Dec 1 (Dec 1-30), early refill Dec 20 shifted to Dec 31,
    # covering Dec 31 only in the year. 31 of 31 days.
    "supply_past_december": (
        [order("F1", at("2025-12-01"), [fill("C10AA05", 30)]),
         order("F2", at("2025-12-20"), [fill("C10AA05", 30)])],
        {"statins": (2, 1.0, True)},
    ),
    # No ATC on the item: the catalog maps SKU100103 (atorvastatin 20 mg x 7) to C10AA05 and
    # 7 days a pack; 4 packs = 28 days. Jan 1-28 and Feb 1-28 of Jan 1-Dec 31: 56/365.
    "catalog_mapping": (
        [order("G1", at("2025-01-01"), [{"sku": "SKU100103", "name": "阿托伐他汀钙片", "rx": True,
                                         "qty": 4, "unit_price": 45.0}]),
         order("G2", at("2025-02-01"), [{"sku": "SKU100103", "name": "阿托伐他汀钙片", "rx": True,
                                         "qty": 4, "unit_price": 45.0}])],
        {"statins": (2, 0.1534, False)},
    ),
}


def test_pdc_worked_cases_through_the_cli(client, make_api_key, cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = list(CASES)
    ids = ingest_records(client, make_api_key, [person(CASES[n][0]) for n in names])
    out = tmp_path / "pdc.csv"
    run_cli(cli_env, "crm", "adherence", "--year", "2025", "--output", str(out))
    with out.open(encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["customer_id", "class", "fills", "pdc", "adherent"]
        got: dict[str, dict[str, tuple[int, float, bool]]] = {}
        for cid, cls, fills, pdc, adherent in reader:
            got.setdefault(cid, {})[cls] = (int(fills), float(pdc), adherent == "true")
    for name, cid in zip(names, ids, strict=True):
        assert got.get(cid, {}) == CASES[name][1], name


def test_pdc_threshold_is_inclusive() -> None:
    # Exactly 80 % is adherent: index Oct 23, period Oct 23-Dec 31 = 70 days; two 28-day
    # fills (the second on the day the first runs out) cover 56 days; 56/70 = 0.80.
    fills = [Fill(date(2025, 10, 23), "C10AA05", 28), Fill(date(2025, 11, 20), "C10AA05", 28)]
    [res] = adherence(fills, CLASSES, 2025, 0.80)
    assert (res.period_days, res.covered_days, res.pdc, res.adherent) == (70, 56, 0.8, True)


def test_refill_due_and_long_supply() -> None:
    fills = [Fill(date(2025, 1, 1), "C10AA05", 30), Fill(date(2025, 1, 20), "C10AA05", 30),
             Fill(date(2025, 3, 1), "A10BA02", 90)]
    by_atc = {r.atc: r for r in refills_due(fills, 84)}
    # the early refill runs Jan 31-Mar 1; due the day after
    assert by_atc["C10AA05"].runs_out == date(2025, 3, 1)
    assert by_atc["C10AA05"].due == date(2025, 3, 2) and not by_atc["C10AA05"].long_supply
    assert by_atc["A10BA02"].due == date(2025, 3, 1) + timedelta(days=90)
    assert by_atc["A10BA02"].long_supply  # 90 > 84 days


def test_reminders_only_with_care_consent_and_audited(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    start = (today - timedelta(days=25)).isoformat()
    orders = [order("R1", at(start), [fill("C10AA05", 30)])]
    granted, withdrawn, none = ingest_records(client, make_api_key, [
        person(orders, consents={"care_reminders": True}),
        # granted first, withdrawn later: the newest decision wins
        person(orders, consents={"care_reminders": True}) | {"consents": [
            {"purpose": "care_reminders", "granted": True, "at": "2025-01-01T00:00:00+08:00"},
            {"purpose": "care_reminders", "granted": False, "at": "2025-06-01T00:00:00+08:00"}]},
        person(orders),
    ])
    run_cli(cli_env, "crm", "refresh")
    res = run_cli(cli_env, "crm", "reminders", "--due-within", "10")
    lines = res.output.strip().splitlines()
    assert lines[0] == "customer_id,class,atc,due,last_fill,long_supply"
    listed = {ln.split(",")[0] for ln in lines[1:]}
    assert listed == {granted}
    row = lines[1].split(",")
    assert row[1:4] == ["statins", "C10AA05", (today + timedelta(days=5)).isoformat()]
    with platform.transaction() as s:
        audited = set(s.scalars(select(AuditEvent.customer_id).where(
            AuditEvent.action == "crm.reminders.list")))
    assert audited == {granted}
    assert withdrawn not in listed and none not in listed


def test_pdc_csv_needs_year_and_output(cli_env) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from cdp.cli import cli

    res = CliRunner().invoke(cli, ["crm", "adherence", "--year", "20x5", "--output", "x.csv"],
                             env=cli_env)
    assert res.exit_code == 2 and "year" in res.output.lower()

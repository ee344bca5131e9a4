"""policies/crm.toml and catalog.toml are validated at load, naming the bad key."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from cdp.crm.settings import CrmPolicyError, load_settings, parse_settings
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR

DOC = tomllib.loads(Path(POLICY_DIR, "crm.toml").read_text(encoding="utf-8"))


def test_shipped_policy_loads() -> None:
    s = load_settings(PolicyFiles(POLICY_DIR))
    assert s.class_prefixes["statins"] == ("C10AA",) and s.class_prefixes["ras"] == ("C09",)
    assert s.class_prefixes["diabetes"] == ("A10B",) and s.adherence_threshold == 0.8
    assert s.tier_for(0) == "member" and s.tier_for(500) == "silver" and s.tier_for(10**6) == "platinum"
    assert s.catalog["SKU100103"] == ("C10AA05", 7) and s.min_count == 10


@pytest.mark.parametrize("change,fragment", [
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
    (lambda d: d["complaints"]["sla"].pop("urgent"), "complaints.sla.urgent"),
    (lambda d: d["churn"].update(alive_threshold=2), "churn.alive_threshold"),
    (lambda d: d["clv"].update(time_unit="months"), "clv.time_unit"),
    (lambda d: d["complaints"]["keywords"].update(weather=["rain"]), "complaints.keywords.weather"),
    (lambda d: d["adherence"]["classes"]["statins"].update(prefixes=[]), "adherence.classes.statins"),
    (lambda d: d["loyalty"]["tiers"].pop("member"), "loyalty.tiers"),
])
def test_bad_settings_name_the_key(change, fragment: str) -> None:  # type: ignore[no-untyped-def]
    import copy

    doc = copy.deepcopy(DOC)
    change(doc)
    with pytest.raises(CrmPolicyError) as exc:
        parse_settings(doc, {})
    assert exc.value.message.startswith("crm.toml") and fragment in exc.value.message


def test_bad_catalog_names_the_sku(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, pol)
    (pol / "catalog.toml").write_text('[sku.BAD1]\natc = "C10-AA"\ndays_per_unit = 7\n')
    with pytest.raises(CrmPolicyError, match=r"catalog.toml: sku.BAD1.atc"):
        load_settings(PolicyFiles(pol))

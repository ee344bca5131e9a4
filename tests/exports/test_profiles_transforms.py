"""Profiles refuse what would leak; transforms and k-anonymity do what they promise."""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cdp.crypto.keyring import Keyring
from cdp.errors import ValidationError
from cdp.exports import manifest
from cdp.exports.kanon import KAnonymizer
from cdp.exports.profiles import FieldSpec, load_profiles, parse_profile
from cdp.exports.transforms import Context, apply, date_shift_days, depth, hierarchy, split_address
from cdp.exports.writers import open_writer, sha256_file
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR


def _profile(**fields_over):  # type: ignore[no-untyped-def]
    base = {"recipient": "bi_team", "purpose": "analytics",
            "fields": [{"source": "customer_id", "transform": "pseudonym", "name": "c"}]}
    base.update(fields_over)
    return base


def test_shipped_profiles_are_valid() -> None:
    names = {p.name for p in load_profiles(PolicyFiles(POLICY_DIR))}
    assert {"bi_weekly", "reco_daily", "research_quarterly"} <= names


@pytest.mark.parametrize("field", [
    {"source": "phone", "transform": "keep"},
    {"source": "national_id", "transform": "mask", "keep_last": 4},
    {"source": "name", "transform": "keep"},
    {"source": "address", "transform": "keep"},
    {"source": "interaction_text", "transform": "keep"},
    {"source": "birth_date", "transform": "region"},
    {"source": "secret_column", "transform": "drop"},
    {"source": "customer_id", "transform": "pseudonym", "quasi_identifier": True},
    {"source": "birth_date", "transform": "age_band", "band": 0},
])
def test_profile_that_would_leak_or_is_wrong_is_refused(field: dict) -> None:
    with pytest.raises(ValidationError):
        parse_profile("bad", _profile(fields=[field]))


def test_health_data_needs_a_separate_consent() -> None:
    rx = {"source": "rx_order_count", "transform": "keep"}
    with pytest.raises(ValidationError, match="separate"):
        parse_profile("bad", _profile(fields=[rx]))
    ok = parse_profile("ok", _profile(fields=[rx], health_consent_purpose="marketing_health"))
    assert ok.consent_purposes == ("marketing_health",)


def test_consent_gates_name_consents_that_records_carry() -> None:
    # A gate on a consent no channel sends would silently export nobody.
    with pytest.raises(ValidationError, match="consent_purpose must be one of"):
        parse_profile("bad", _profile(consent_purpose="analytics"))
    with pytest.raises(ValidationError, match="marketing export needs"):
        parse_profile("bad", _profile(purpose="marketing", consent_purpose="research"))
    assert parse_profile("ok", _profile(purpose="marketing")).consent_purposes == ("marketing",)
    default = parse_profile("ok", _profile())
    assert default.consent_purposes == () and default.objection_purpose == "profiling"
    assert parse_profile("ok", _profile(objection_purpose="")).objection_purpose is None


def test_bad_cron_and_purpose_are_refused() -> None:
    with pytest.raises(ValidationError):
        parse_profile("bad", _profile(schedule="every tuesday"))
    with pytest.raises(ValidationError):
        parse_profile("bad", _profile(purpose="curiosity"))


def _ctx(scope: str = "export/a") -> Context:
    ring = Keyring.generate()
    return Context(ring.pseudonym_key(scope), ring.pseudonym_key(scope + "/ds"), date(2026, 6, 1), "c1")


def test_generalisation_hierarchies() -> None:
    ctx = _ctx()
    age = FieldSpec("age", "birth_date", "age_band", True, {"band": 10})
    assert hierarchy(age, "1985-04-12", ctx) == ("40-49", "40-59", "<60", "*")
    assert hierarchy(age, None, ctx) == ("*",) * depth(age)
    region = FieldSpec("r", "address", "region", True, {"level": "city"})
    assert hierarchy(region, "广东省深圳市南山区科技园路1号3栋", ctx) == ("广东省深圳市", "广东省", "*")
    assert hierarchy(region, "北京市朝阳区光华路5号", ctx) == ("北京市", "北京市", "*")
    assert split_address("上海市 长宁区光明路122号") == ("上海市", "上海市")
    month = FieldSpec("m", "first_order_at", "month", True)
    assert hierarchy(month, "2024-05-03T10:00:00+08:00", ctx) == ("2024-05", "2024-Q2", "2024", "*")


def test_mask_pseudonym_and_date_shift() -> None:
    ctx = _ctx()
    assert apply(FieldSpec("g", "gender", "mask", params={"keep_first": 1}), "female", ctx) == "f*****"
    p = FieldSpec("c", "customer_id", "pseudonym")
    a = apply(p, "abc", ctx)
    assert a == apply(p, "abc", ctx) and a != "abc" and len(a) == 20
    other = _ctx("export/b")
    assert apply(p, "abc", other) != a
    shifts = {date_shift_days(ctx.date_shift_key, f"c{i}", 10) for i in range(300)}
    assert shifts <= set(range(-10, 11)) - {0} and len(shifts) > 10
    ds = FieldSpec("d", "first_order_at", "date_shift", params={"max_days": 10})
    # One customer's dates move together, so intervals survive.
    d1, d2 = apply(ds, "2025-01-01", ctx), apply(ds, "2025-01-31", ctx)
    assert (date.fromisoformat(d2) - date.fromisoformat(d1)).days == 30


def test_k_anonymity_holds_for_every_class() -> None:
    rng = random.Random(3)
    ctx = _ctx()
    specs = [FieldSpec("age", "birth_date", "age_band", True, {"band": 5}),
             FieldSpec("r", "address", "region", True, {"level": "city"}),
             FieldSpec("g", "gender", "keep", True)]
    cities = ["广东省深圳市南山区", "广东省广州市天河区", "浙江省杭州市西湖区", "四川省成都市武侯区"]
    rows = []
    for _ in range(400):
        src = {"birth_date": f"{rng.randint(1940, 2005)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
               "address": rng.choice(cities) + "某路1号", "gender": rng.choice(["male", "female"])}
        rows.append(tuple(hierarchy(s, src[s.source], ctx) for s in specs))
    for k in (2, 5, 10, 25):
        kan = KAnonymizer([depth(s) for s in specs], k, 0.05)
        for ch in rows:
            kan.add(ch)
        sol = kan.solve()
        kept = [sol.key(ch) for ch in rows if sol.keep(ch)]
        assert min(Counter(kept).values()) >= k
        assert sol.suppressed <= 0.05 * len(rows)
        assert sol.rows == len(kept) and sol.k_reached == min(Counter(kept).values())
    # Fewer rows than k: nothing can be released.
    kan = KAnonymizer([2], 5, 0.5)
    for v in ("a", "b", "c"):
        kan.add(((v, "*"),))
    assert kan.solve().rows == 0


def test_writers_and_signed_manifest(tmp_path: Path) -> None:
    cols = [("a", "string"), ("n", "int64")]
    for fmt in ("csv", "jsonl", "parquet"):
        w = open_writer(fmt, tmp_path / f"x.{fmt}", cols)
        for i in range(12_000):
            w.write({"a": f"v{i}", "n": i})
        w.close()
    assert pq.read_table(tmp_path / "x.parquet").num_rows == 12_000
    with (tmp_path / "x.csv").open() as fh:
        assert sum(1 for _ in csv.reader(fh)) == 12_001
    ring = Keyring.generate()
    doc = manifest.sign({"files": [{"name": "x.csv", "sha256": sha256_file(tmp_path / "x.csv")}]},
                        ring.signing_key, ring.verify_key_bytes())
    assert manifest.verify(doc, ring.verify_key_bytes(), tmp_path)
    # Another key, a changed manifest, or a changed file: all rejected.
    assert not manifest.verify(doc, Keyring.generate().verify_key_bytes(), tmp_path)
    doc2 = {**doc, "manifest": {**doc["manifest"], "rows": 1}}
    assert not manifest.verify(doc2, ring.verify_key_bytes())
    (tmp_path / "x.csv").write_text("a,n\nforged,1\n")
    assert not manifest.verify(doc, ring.verify_key_bytes(), tmp_path)

"""BG/NBD and Gamma-Gamma: the published CDNOW fit, parameter recovery, merged rows, the
`cdp crm clv fit` line."""

from __future__ import annotations

import importlib.metadata
import json
from collections import defaultdict
from datetime import date

import numpy as np
import pytest

from cdp.crm import clv
from tests.crm.helpers import ingest_records, order, otc, person, run_cli

# Fader, Hardie & Lee (2005), table 1 / Fader & Hardie's note: time unit weeks.
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _cdnow_transactions():  # type: ignore[no-untyped-def]
    try:
        dist = importlib.metadata.distribution("lifetimes")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the lifetimes wheel (CDNOW sample) is not installed")
    path = dist.locate_file("lifetimes/datasets/CDNOW_sample.txt")
    if not path.exists():  # type: ignore[attr-defined]
        pytest.skip("CDNOW sample not in the installed lifetimes")
    days: dict[str, set[date]] = defaultdict(set)
    for line in path.read_text().splitlines():  # type: ignore[attr-defined]
        f = line.split()
        days[f[1]].add(date(int(f[2][:4]), int(f[2][4:6]), int(f[2][6:])))
    return days


def test_cdnow_reproduces_the_published_fit() -> None:
    days = _cdnow_transactions()
    cal, hold = date(1997, 9, 30), date(1998, 6, 30)
    x, tx, T, actual = [], [], [], 0
    for ds in days.values():
        ds_sorted = sorted(ds)
        c = [d for d in ds_sorted if d <= cal]
        x.append(len(c) - 1)
        tx.append((c[-1] - c[0]).days / 7)
        T.append((cal - c[0]).days / 7)
        actual += sum(1 for d in ds_sorted if cal < d <= hold)
    xa, txa, Ta = (np.array(v, dtype=float) for v in (x, tx, T))
    p = clv.fit_bgnbd(xa, txa, Ta)
    assert len(x) == 2357
    for name, want in CDNOW.items():
        assert getattr(p, name) == pytest.approx(want, rel=0.02), name
    assert p.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    predicted = clv.expected_purchases(p, (hold - cal).days / 7, xa, txa, Ta).sum()
    assert abs(predicted - actual) / actual < 0.15


def test_parameters_recovered_from_synthetic_data() -> None:
    true = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.5}
    x, tx, T = clv.simulate_bgnbd(40_000, **true, T=78.0, seed=11)
    tx = np.round(tx * 7) / 7  # purchases on whole days, as the platform counts them
    p = clv.fit_bgnbd(x, tx, T)
    for name, want in true.items():
        assert getattr(p, name) == pytest.approx(want, rel=0.10), name


def test_merging_identical_rows_changes_nothing() -> None:
    x, tx, T = clv.simulate_bgnbd(3000, 0.3, 4.0, 0.8, 2.4, T=30.0, seed=2)
    tx = np.round(tx)
    merged = clv.fit_bgnbd(x, tx, T, merge=True)
    plain = clv.fit_bgnbd(x, tx, T, merge=False)
    assert merged.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-9)
    assert merged.r == pytest.approx(plain.r, rel=1e-4)
    (ux, _, _), w = clv.merge_rows(x, tx, T)
    assert ux.size < x.size and w.sum() == x.size


def test_scores_are_probabilities_and_value_grows_with_spend() -> None:
    p = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426, 0.0)
    x, tx, T = np.array([0.0, 2, 2]), np.array([0.0, 30, 5]), np.array([38.0, 38, 38])
    alive = clv.probability_alive(p, x, tx, T)
    assert alive[0] == 1.0 and 0 < alive[2] < alive[1] < 1  # a long silence lowers it
    val = clv.lifetime_value(p, np.array([10.0, 10.0, 10.0]), x, tx, T, months=12,
                             days_per_unit=7, annual_discount=0.1)
    val2 = clv.lifetime_value(p, np.array([20.0, 20.0, 20.0]), x, tx, T, months=12,
                              days_per_unit=7, annual_discount=0.1)
    assert np.allclose(val2, 2 * val) and val[1] > val[2]


def test_clv_fit_command_prints_one_json_line(client, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    recs = []
    for i in range(12):
        orders = [order(f"O{i}-{k}", f"2025-0{1 + (k * (i % 3 + 1)) % 9}-1{k % 9}T12:00:00+08:00",
                        [otc(20.0 + i)]) for k in range(1 + i % 4)]
        recs.append(person(orders))
    ingest_records(client, make_api_key, recs)
    res = run_cli(cli_env, "crm", "clv", "fit", "--calibration-end", "2025-05-31",
                  "--holdout-end", "2025-09-30")
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert set(out) == {"model", "time_unit", "customers", "r", "alpha", "a", "b",
                        "log_likelihood", "holdout"}
    assert out["model"] == "bg_nbd" and out["time_unit"] == "weeks"
    assert out["customers"] == 12 and set(out["holdout"]) == {"actual", "predicted"}
    assert isinstance(out["holdout"]["actual"], int) and out["holdout"]["predicted"] >= 0


def test_scoring_distinct_rows_equals_scoring_each() -> None:
    p = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426, 0.0)
    x, tx, T = clv.simulate_bgnbd(2000, 0.243, 4.414, 0.793, 2.426, T=39.0, seed=5)
    tx = np.round(tx)
    sc = clv.score(p, x, tx, T, horizon=13.0, months=12, days_per_unit=7, annual_discount=0.1)
    assert np.allclose(sc.p_alive, clv.probability_alive(p, x, tx, T))
    assert np.allclose(sc.expected, clv.expected_purchases(p, 13.0, x, tx, T))
    spend = np.linspace(10, 100, x.size)
    assert np.allclose(sc.value(spend), clv.lifetime_value(
        p, spend, x, tx, T, months=12, days_per_unit=7, annual_discount=0.1))

"""Segment files: the condition language, validation errors naming file and term, and
membership with entry and exit times."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cdp.crm.models import SegmentMember
from cdp.crm.segments import SegmentError, load_segments, parse_segments
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR
from tests.crm.helpers import ingest_records, order, otc, person, run_cli


def _one(when: object) -> object:
    [seg] = parse_segments({"segment": [{"name": "s", "when": when}]}, "segments/t.toml")
    return seg


def test_the_default_set_loads() -> None:
    segs = load_segments(PolicyFiles(POLICY_DIR))
    for name in (
        "champions",
        "loyal",
        "potential_loyalists",
        "new",
        "promising",
        "need_attention",
        "about_to_sleep",
        "at_risk",
        "cannot_lose",
        "hibernating",
        "statin_users",
        "wechat_only",
        "guangdong",
    ):
        assert name in segs
    assert segs["statin_users"].health and not segs["champions"].health


def test_condition_language() -> None:
    seg = _one(
        {
            "all": [
                {"trait": "r_score", "op": ">=", "value": 4},
                {
                    "any": [
                        {"trait": "channels", "op": "contains", "value": "app"},
                        {"trait": "province", "op": "prefix", "value": "广东"},
                    ]
                },
                {"not": {"trait": "atc_codes", "op": "prefix", "value": "C10"}},
            ]
        }
    )
    p = seg.predicate  # type: ignore[attr-defined]
    base = {"r_score": 5, "channels": ["jd_health"], "province": "广东省", "atc_codes": ["A10BA02"]}
    assert p(base)
    assert not p({**base, "r_score": 3})
    assert not p({**base, "province": "北京市"})
    assert p({**base, "province": "北京市", "channels": ["app"]})
    assert not p({**base, "atc_codes": ["C10AA05"]})
    assert not p({**base, "r_score": None})  # a customer without scores is in no RFM segment
    assert seg.health  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "when,fragment",
    [
        ({"trait": "shoe_size", "op": "==", "value": 42}, "unknown trait 'shoe_size'"),
        ({"trait": "r_score", "op": "~", "value": 4}, "unknown operator '~'"),
        ({"trait": "r_score", "op": ">=", "value": "high"}, "does not apply to trait 'r_score'"),
        ({"trait": "r_score", "op": ">=", "value": 4, "weight": 2}, "unknown term 'weight'"),
        ({"all": []}, "non-empty list"),
        ({"all": [{"trait": "r_score", "op": ">=", "value": 4}], "any": []}, "exactly one"),
        ({"all": [{"not": {"trait": "cityy", "op": "==", "value": "x"}}]}, "when.all[0].not"),
    ],
)
def test_bad_definitions_name_file_and_term(when: object, fragment: str) -> None:
    with pytest.raises(SegmentError) as exc:
        _one(when)
    assert "segments/t.toml: segment s" in exc.value.message and fragment in exc.value.message


def test_a_bad_file_refuses_to_load(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, pol)
    (pol / "segments" / "zz.toml").write_text(
        '[[segment]]\nname = "x"\nwhen = { trait = "frequncy", op = ">", value = 1 }\n'
    )
    with pytest.raises(SegmentError, match=r"segments/zz.toml: segment x: when: unknown trait 'frequncy'"):
        load_segments(PolicyFiles(pol))
    (pol / "segments" / "zz.toml").write_text(
        '[[segment]]\nname = "champions"\nwhen = { trait = "frequency", op = ">", value = 1 }\n'
    )
    with pytest.raises(SegmentError, match="also defined"):
        load_segments(PolicyFiles(pol))


def test_membership_keeps_entry_and_exit_times(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    [cid] = ingest_records(
        client,
        make_api_key,
        [person([order("W1", (now - timedelta(days=3)).isoformat(), [otc(10.0)])], source="wechat_mp")],
    )
    run_cli(cli_env, "crm", "refresh")
    with platform.transaction() as s:
        stay = s.scalars(
            select(SegmentMember).where(
                SegmentMember.customer_id == cid, SegmentMember.segment == "wechat_only"
            )
        ).one()
        assert stay.left_at is None and stay.entered_at <= datetime.now(UTC)
    # the same person buys in the app: no longer WeChat-only; the stay is closed, not deleted
    ingest_records(
        client,
        make_api_key,
        [
            person(
                [order("A1", (now - timedelta(days=1)).isoformat(), [otc(10.0)])], source="app", phone=None
            )
            | {"identifiers": [{"type": "phone", "value": _phone_of(platform, cid)}]}
        ],
    )
    run_cli(cli_env, "crm", "refresh")
    with platform.transaction() as s:
        stays = list(
            s.scalars(
                select(SegmentMember).where(
                    SegmentMember.customer_id == cid, SegmentMember.segment == "wechat_only"
                )
            )
        )
    assert len(stays) == 1 and stays[0].left_at is not None
    r = client.get("/v1/crm/segments/wechat_only", headers=make_api_key("analyst", "analytics"))
    assert r.status_code == 200 and r.get_json()["left"] is None  # 1 < 10: suppressed


def _phone_of(platform, cid):  # type: ignore[no-untyped-def]
    from cdp.identity.view import assemble_customer

    with platform.transaction() as s:
        view = assemble_customer(s, platform, cid)
    return view["identities"][0]["identifiers"][0]["value"]

"""Ingest end to end: CLI and service, resolution outcomes users see, nothing in clear."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cdp.audit.models import AuditEvent
from cdp.cli import cli
from cdp.identity.models import Customer, Identifier, IdentityLink, LineageEvent, SourceRecord
from cdp.identity.pipeline import ingest_records
from cdp.identity.records import validate_record
from cdp.identity.view import assemble_customer
from tests.conftest import BACKEND
from tests.identity.identity_records import (
    ADDR_A,
    EMAIL_A,
    NAME_A,
    NAME_A_TRAD,
    NID_A,
    NID_B,
    NID_BAD,
    PHONE_A,
    PHONE_FAMILY,
    rec,
    write_jsonl,
)
from tests.logcheck import register_sensitive


def ingest(platform, records):  # type: ignore[no-untyped-def]
    items = [(n, validate_record(r)) for n, r in enumerate(records, 1)]
    return ingest_records(platform, items, actor="test", batch_size=50)


def links(platform) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        return dict(list(s.execute(select(SourceRecord.source_record_id, SourceRecord.customer_id)).tuples()))


def run_cli(cli_env, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("workers", ["0", "1"])  # parsed inline / in a worker process
def test_cli_ingest_links_rejects_and_idempotent_rerun(cli_env, platform, tmp_path: Path,
                                                       workers: str) -> None:
    path = write_jsonl(tmp_path / "day.jsonl", [
        rec("jd_health", "jd-1", [("phone", "138****5678"), ("national_id", NID_A)],
            name=NAME_A, birth_date="1985-04-12", address=ADDR_A),
        "{not json",
        rec("ali_health", "ali-1", [("national_id", NID_A.lower()), ("phone", PHONE_A)], name=NAME_A_TRAD),
        {"source": "app", "identifiers": []},  # no source_record_id
        rec("app", "app-1", [("phone", f"+86 {PHONE_A[:3]} {PHONE_A[3:7]} {PHONE_A[7:]}"),
                             ("email", f"  {EMAIL_A} ")], name=NAME_A),
        ["an", "array"],
    ])
    out = run_cli(cli_env, "ingest", "--workers", workers, str(path)).output
    assert "read 6, accepted 3, rejected 3, new customers 1, merges 0" in out
    rejects = [json.loads(x) for x in Path(f"{path}.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 4, 6]
    assert "source_record_id" in rejects[1]["reason"]
    assert NID_A not in Path(f"{path}.rejects.jsonl").read_text()

    csv_out = run_cli(cli_env, "identity", "links").output
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    assert list(rows[0]) == ["source", "source_record_id", "customer_id"]
    assert len(rows) == 3 and len({r["customer_id"] for r in rows}) == 1

    again = run_cli(cli_env, "ingest", "--workers", workers, str(path)).output
    assert "new customers 0, merges 0 (created 0, updated 0, unchanged 3)" in again
    with platform.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SourceRecord)) == 3
        assert s.scalar(select(func.count()).select_from(Identifier)) == 6
        assert s.scalar(select(func.count()).select_from(IdentityLink)) == 3


def test_resend_is_update_not_duplicate(platform) -> None:
    ingest(platform, [rec("jd_health", "jd-1", [("phone", PHONE_A)], name=NAME_A)])
    before = links(platform)
    ingest(platform, [rec("jd_health", "jd-1", [("phone", PHONE_A)], name=NAME_A, address=ADDR_A)])
    assert links(platform) == before
    with platform.transaction() as s:
        view = assemble_customer(s, platform, before["jd-1"])
    assert view["profile"]["address"]["value"] == ADDR_A
    assert len(view["identities"]) == 1 and len(view["identities"][0]["identifiers"]) == 1


ADDR_OLD = "上海市浦东新区1号"
register_sensitive([ADDR_OLD])


def test_resends_inside_one_batch_apply_in_order(platform) -> None:
    """A record and two re-sends of it in one batch (one transaction, three resolution
    rounds): the last content wins, each re-send counts as an update, one active link."""
    summary = ingest(platform, [
        rec("jd_health", "jd-7", [("phone", PHONE_A)], name=NAME_A),
        rec("app", "app-7", [("phone", PHONE_FAMILY)], name="王小明"),
        rec("jd_health", "jd-7", [("phone", PHONE_A)], name=NAME_A, address=ADDR_OLD),
        rec("pingan_health", "pa-7", [("phone", PHONE_A)], name=NAME_A),
        rec("jd_health", "jd-7", [("phone", PHONE_A)], name=NAME_A, address=ADDR_A),
    ])
    assert (summary.created, summary.updated, summary.accepted) == (3, 2, 5)
    got = links(platform)
    assert len(got) == 3 and got["jd-7"] == got["pa-7"] != got["app-7"]
    with platform.transaction() as s:
        view = assemble_customer(s, platform, got["jd-7"])
        active = s.execute(select(func.count()).select_from(IdentityLink).join(
            SourceRecord, SourceRecord.id == IdentityLink.record_id).where(
            SourceRecord.source_record_id == "jd-7", IdentityLink.ended_at.is_(None))).scalar_one()
    assert view["profile"]["address"]["value"] == ADDR_A
    assert active == 1


def test_two_valid_national_ids_never_merge(platform) -> None:
    ingest(platform, [
        rec("jd_health", "a", [("national_id", NID_A), ("member_id", "M1")], name=NAME_A),
        rec("ali_health", "b", [("national_id", NID_B)], name=NAME_A),
        # bridges both by a strong id and by phone: still two people
        rec("app", "c", [("member_id", "M1"), ("national_id", NID_B), ("phone", PHONE_A)], name=NAME_A),
    ])
    got = links(platform)
    assert got["a"] != got["b"]
    with platform.transaction() as s:
        for cid in set(got.values()):
            nids = set(s.scalars(select(Identifier.bidx).where(
                Identifier.customer_id == cid, Identifier.type == "national_id")))
            assert len(nids) <= 1


def test_family_sharing_phone_and_address_stay_apart(platform) -> None:
    ingest(platform, [
        rec("jd_health", "father", [("phone", PHONE_FAMILY)], name="王建国", birth_date="1960-02-03",
            address=ADDR_A),
        rec("ali_health", "son", [("phone", PHONE_FAMILY)], name="王小明", birth_date="1990-05-06",
            address=ADDR_A),
        rec("pingan_health", "mother", [("phone", "139****4321")], name="李娜娜", address=ADDR_A),
        rec("call_center", "father-again", [("phone", PHONE_FAMILY)], name="王建国"),
    ])
    got = links(platform)
    assert len({got["father"], got["son"], got["mother"]}) == 3
    assert got["father-again"] == got["father"]


def test_masked_phone_alone_never_links_but_with_name_does(platform) -> None:
    ingest(platform, [
        rec("app", "full", [("phone", PHONE_A)], name=NAME_A, birth_date="1985-04-12"),
        rec("jd_health", "masked-other", [("phone", "138****5678")], name="刘洋"),
        rec("ali_health", "masked-same", [("phone", "138****5678")], name=NAME_A),
    ])
    got = links(platform)
    assert got["masked-other"] != got["full"]
    assert got["masked-same"] == got["full"]
    with platform.transaction() as s:
        lk = s.scalars(select(IdentityLink).join(SourceRecord, SourceRecord.id == IdentityLink.record_id)
                       .where(SourceRecord.source_record_id == "masked-same")).one()
    assert lk.rule == "probabilistic" and "masked_phone" in lk.evidence and lk.score


def test_invalid_national_id_is_not_matched(platform) -> None:
    ingest(platform, [
        rec("jd_health", "x", [("national_id", NID_BAD)], name="刘洋"),
        rec("ali_health", "y", [("national_id", NID_BAD)], name="陈静"),
    ])
    got = links(platform)
    assert got["x"] != got["y"]


def test_strong_identifier_bridge_merges_with_lineage(platform) -> None:
    ingest(platform, [rec("jd_health", "a", [("national_id", NID_A)], name=NAME_A)])
    ingest(platform, [rec("app", "b", [("member_id", "M77")], name=NAME_A)])
    res = ingest(platform, [rec("app", "c", [("member_id", "M77"), ("national_id", NID_A)])])
    assert res.merges == 1
    got = links(platform)
    assert got["a"] == got["b"] == got["c"]
    with platform.transaction() as s:
        merged = s.scalars(select(Customer).where(Customer.status == "merged")).one()
        assert merged.merged_into == got["a"]
        ev = s.scalars(select(LineageEvent).where(LineageEvent.kind == "merged")).one()
        assert ev.other_customer_id == merged.id and ev.evidence
        view = assemble_customer(s, platform, got["a"])  # inherited values still decrypt
        assert {i["source_record_id"] for i in view["identities"]} == {"a", "b", "c"}
        assert assemble_customer(s, platform, merged.id)["status"] == "merged"


def test_platform_user_id_only_within_its_source(platform) -> None:
    ingest(platform, [
        rec("jd_health", "j", [("platform_user_id", "u-100")], name="刘洋"),
        rec("ali_health", "a", [("platform_user_id", "u-100")], name="陈静"),
        rec("jd_health", "j2", [("platform_user_id", "u-100")]),
    ])
    got = links(platform)
    assert got["j"] != got["a"] and got["j2"] == got["j"]


def test_unknown_fields_classified_and_encrypted_and_audited(platform) -> None:
    r = rec("store_pos", "s1", [("phone", PHONE_A), ("qq_number", "123456789")], name=NAME_A,
            emergency_contact=f"老王 {PHONE_FAMILY}")
    r["channel_meta"] = {"store_id": "S0318", "till": "T01"}
    r["interactions"] = [{"kind": "complaint", "at": "2025-03-01T10:00:00+08:00",
                          "text": f"客户{NAME_A}来电，手机{PHONE_A}，投诉配送慢"}]
    r["consents"] = [{"purpose": "marketing", "granted": True, "at": "2025-03-01T10:00:00+08:00"}]
    r["orders"] = [{"order_id": "O1", "items": [{"sku": "S", "name": "二甲双胍缓释片", "rx": True,
                                                  "qty": 2, "unit_price": 35.5}], "total": 71.0}]
    ingest(platform, [r])
    cid = links(platform)["s1"]
    with platform.transaction() as s:
        view = assemble_customer(s, platform, cid)
        audit = list(s.scalars(select(AuditEvent).where(AuditEvent.customer_id == cid)))
    extras = {e["field"]: e for e in view["extra_fields"]}
    assert extras["emergency_contact"]["category"] == "contact"
    assert extras["channel_meta"]["value"] == {"store_id": "S0318", "till": "T01"}
    unknown = [i for i in view["identities"][0]["identifiers"] if i["type"] == "qq_number"]
    assert unknown[0]["status"] == "unknown_type" and unknown[0]["category"] == "unknown"
    inter = view["interactions"][0]
    assert PHONE_A in inter["text"] and PHONE_A not in inter["text_redacted"]
    assert "PHONE_NUMBER" in inter["entity_types"]
    assert view["prescriptions"][0]["category"] == "health" and view["orders"] == []
    assert view["consents"][0]["purpose"] == "marketing"
    assert [a.action for a in audit] == ["records.write"]
    assert {"contact", "health", "free_text"} <= set(audit[0].categories)


def test_view_shape(platform) -> None:
    ingest(platform, [rec("jd_health", "v1", [("phone", PHONE_A), ("national_id", NID_A)],
                          name=NAME_A, gender="male", birth_date="1985-04-12", address=ADDR_A),
                      rec("call_center", "v2", [("phone", PHONE_A)], name="张先生")])
    cid = links(platform)["v1"]
    with platform.transaction() as s:
        v = assemble_customer(s, platform, cid)
    assert set(v) == {"customer_id", "status", "merged_into", "created_at", "updated_at",
                      "identities", "profile", "extra_fields", "orders", "prescriptions",
                      "interactions", "consents", "links"}
    assert v["profile"]["name"]["value"] == NAME_A  # a full name beats an honorific
    assert {x["value"] for x in v["profile"]["name"]["values"]} == {NAME_A, "张先生"}
    assert v["profile"]["birth_date"]["category"] == "demographic"
    phone = v["identities"][0]["identifiers"][0]
    assert phone == {"type": "phone", "status": "valid", "value": "+86" + PHONE_A, "category": "contact"}
    assert all(set(lk) == {"source", "source_record_id", "rule", "evidence", "score", "actor",
                           "created_at"} for lk in v["links"])
    assert [lk["rule"] for lk in v["links"]] == ["new", "deterministic:phone"]


def _plaintexts() -> list[str]:
    return [NID_A, NID_B, PHONE_A, PHONE_FAMILY, "zhang.san@example.com", EMAIL_A, NAME_A,
            ADDR_A, "王建国", "投诉配送慢"]


def test_no_plaintext_at_rest(platform, config, tmp_path: Path) -> None:
    r = rec("jd_health", "p1", [("phone", PHONE_A), ("national_id", NID_A), ("email", EMAIL_A)],
            name=NAME_A, address=ADDR_A, birth_date="1985-04-12", nickname="王建国")
    r["interactions"] = [{"kind": "complaint", "text": "投诉配送慢"}]
    ingest(platform, [r, rec("ali_health", "p2", [("phone", PHONE_FAMILY), ("national_id", NID_B)])])
    platform.dispose()
    if BACKEND == "postgresql":
        url = config.database_url.replace("postgresql+psycopg://", "postgresql://")
        blob = subprocess.run(["pg_dump", url], capture_output=True, check=True).stdout
    else:
        db = Path(config.database_url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    for value in _plaintexts():
        assert value.encode() not in blob, "plaintext personal value found at rest"
    assert b"+86" + PHONE_A.encode() not in blob


def test_crash_mid_file_rerun_completes(cli_env, platform, tmp_path: Path) -> None:
    good = [rec("app", f"r{i}", [("member_id", f"M{i}")]) for i in range(6)]
    path = write_jsonl(tmp_path / "f.jsonl", good)
    # first run processes only the first batch, as if killed after its commit
    items = [(n, validate_record(r)) for n, r in enumerate(good[:2], 1)]
    ingest_records(platform, items, actor="test", batch_size=2)
    out = run_cli(cli_env, "ingest", "--batch-size", "2", str(path)).output
    assert "(created 4, updated 0, unchanged 2)" in out
    assert len(links(platform)) == 6


@pytest.mark.parametrize("bad", ["", "\n\n"])
def test_empty_file(cli_env, tmp_path: Path, bad: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(bad)
    assert "read 0, accepted 0" in run_cli(cli_env, "ingest", str(path)).output


def test_ciphertext_moved_to_another_row_does_not_open(platform) -> None:
    ingest(platform, [rec("jd_health", "t1", [("national_id", NID_A)], name=NAME_A),
                      rec("jd_health", "t2", [("national_id", NID_B)], name="刘洋")])
    got = links(platform)
    with platform.transaction() as s:
        a = s.scalars(select(SourceRecord).where(SourceRecord.source_record_id == "t1")).one()
        b = s.scalars(select(SourceRecord).where(SourceRecord.source_record_id == "t2")).one()
        b.profile_ct = a.profile_ct  # an attacker with write access swaps ciphertexts
    with platform.transaction() as s:
        view = assemble_customer(s, platform, got["t2"])
    assert view["profile"] == {}  # the moved value fails authentication: nothing of t1 shows
    assert NAME_A not in json.dumps(view, ensure_ascii=False)


def test_shredded_customer_reads_nothing_others_untouched(platform) -> None:
    ingest(platform, [rec("jd_health", "s1", [("national_id", NID_A)], name=NAME_A),
                      rec("jd_health", "s2", [("national_id", NID_B)], name="刘洋")])
    got = links(platform)
    with platform.transaction() as s:
        platform.keys.shred(s, got["s1"])
    with platform.transaction() as s:
        gone = assemble_customer(s, platform, got["s1"])
        kept = assemble_customer(s, platform, got["s2"])
    assert gone["profile"] == {} and all(not i["identifiers"] for i in gone["identities"])
    assert kept["profile"]["name"]["value"] == "刘洋"


def test_ingest_after_keys_destroyed_still_works(platform) -> None:
    ingest(platform, [rec("jd_health", "e1", [("national_id", NID_A)], name=NAME_A)])
    cid = links(platform)["e1"]
    with platform.transaction() as s:
        platform.keys.shred(s, cid)
    ingest(platform, [rec("app", "e2", [("national_id", NID_A)], name=NAME_A)])
    assert links(platform)["e2"] == cid
    with platform.transaction() as s:
        view = assemble_customer(s, platform, cid)
    assert [x["source_record_id"] for x in view["profile"]["name"]["values"]] == ["e2"]


def test_worker_processes_give_the_same_customers(platform) -> None:
    records = [rec("jd_health", f"w{i}", [("phone", f"1381234{i:04d}")], name=NAME_A if i % 2 else "刘洋")
               for i in range(12)]
    records.append(rec("app", "w-bridge", [("phone", "13812340001"), ("phone", "13812340003")], name=NAME_A))
    items = [(n, validate_record(r)) for n, r in enumerate(records, 1)]
    summary = ingest_records(platform, items, actor="test", batch_size=3, workers=1)
    assert summary.accepted == 13 and summary.merges == 1
    got = links(platform)
    assert got["w1"] == got["w3"] == got["w-bridge"] != got["w5"]

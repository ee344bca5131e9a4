"""A correction reaches matching and lookup: the blind indexes and match keys of the corrected
records are rebuilt, so the new values are found and matched and the old ones no longer are."""

from __future__ import annotations

from sqlalchemy import select

from cdp.crypto.blind_index import blind_index
from cdp.identity.identifiers import match_kind
from cdp.identity.models import Identifier, MatchKey, SourceRecord
from cdp.identity.normalize import normalize_address
from cdp.platform import Platform
from tests.exports.data import ingest, register_sensitive
from tests.rights.test_dsr import ADDRESS, PHONE, SECRETS, _customer_of, _dsr, person_records

NEW_PHONE = "+86 137 1122 3344"
NEW_NAME = "王秀瑛"
NEW_ADDRESS = "浙江省杭州市滨江区江南大道100号2幢301室"


def _lookup(client, headers, id_type: str, value: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get("/v1/customers", query_string={"identifier_type": id_type, "value": value},
                   headers=headers)
    assert r.status_code == 200, r.json
    return [c["customer_id"] if isinstance(c, dict) else c for c in r.json["customers"]]


def _match_keys(platform: Platform, cid: str) -> set[tuple[str, str]]:
    with platform.Session() as s:
        q = select(MatchKey.kind, MatchKey.bidx).where(MatchKey.customer_id == cid)
        return set(s.execute(q).tuples())


def test_correction_rebuilds_indexes_for_lookup_and_matching(  # type: ignore[no-untyped-def]
    platform: Platform, client, make_api_key
) -> None:
    register_sensitive(SECRETS + [NEW_PHONE, "13711223344", NEW_NAME, NEW_ADDRESS])
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    h = make_api_key("compliance_officer", "data_subject_request")
    cs = make_api_key("customer_service", "customer_support")
    assert cid in _lookup(client, cs, "phone", PHONE)
    kr = platform.keyring
    old = {("dob", blind_index(kr, match_kind("dob"), "1985-04-12")),
           ("addr", blind_index(kr, match_kind("addr"), normalize_address(ADDRESS)))}
    assert old <= _match_keys(platform, cid)

    req = _dsr(client, h, cid, "correction")
    client.post(f"/v1/dsr/{req['id']}/verify", headers=h)
    # An old value the customer does not hold is refused, and the request can be sent again.
    r = client.post(f"/v1/dsr/{req['id']}/execute", headers=h, json={"changes": {"identifiers": [
        {"type": "phone", "old": "+86 135 0000 1111", "value": NEW_PHONE}]}})
    assert r.status_code == 422 and r.json["error"]["code"] == "identifier_not_held"
    r = client.post(f"/v1/dsr/{req['id']}/execute", headers=h, json={"changes": {"identifiers": [
        {"type": "phone", "old": "139-2468-1357", "value": "12"}]}})
    assert r.status_code == 422
    changes = {"birth_date": "1985-04-21", "name": NEW_NAME, "address": NEW_ADDRESS,
               "identifiers": [{"type": "phone", "old": "139-2468-1357", "value": NEW_PHONE}]}
    r = client.post(f"/v1/dsr/{req['id']}/execute", json={"changes": changes}, headers=h)
    assert r.status_code == 200, r.json
    assert r.json["request"]["status"] == "completed"

    # Lookup: the corrected phone finds the customer, the old one no longer does.
    assert cid in _lookup(client, cs, "phone", NEW_PHONE)
    assert cid not in _lookup(client, cs, "phone", PHONE)
    with platform.Session() as s:
        phones = s.scalars(select(Identifier.bidx).where(Identifier.customer_id == cid,
                                                         Identifier.type == "phone")).all()
    assert blind_index(kr, "id:phone", "+8613924681357") not in phones
    # Match keys: the old birth date and address are gone, the corrected ones are there.
    keys = _match_keys(platform, cid)
    assert not (old & keys)
    assert ("dob", blind_index(kr, match_kind("dob"), "1985-04-21")) in keys
    assert ("addr", blind_index(kr, match_kind("addr"), normalize_address(NEW_ADDRESS))) in keys
    assert ("name", blind_index(kr, match_kind("name"), NEW_NAME)) in keys

    # Matching: a new channel record carrying the corrected phone joins the same customer.
    ingest(platform, [{"source": "wechat_mp", "source_record_id": "wx-after-correction",
                       "identifiers": [{"type": "phone", "value": "13711223344"}],
                       "profile": {"name": NEW_NAME}}])
    assert _customer_of(platform, "wx-after-correction") == cid
    with platform.Session() as s:
        srcs = s.scalars(select(SourceRecord.source).where(SourceRecord.customer_id == cid)).all()
    assert "dsr_correction" in srcs

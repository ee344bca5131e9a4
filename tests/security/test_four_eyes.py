"""Defect 10 (issue 18): one compliance key pulled any customer's full plain data through an
access request (create, verify, execute: 0.05 s, nobody else involved). Executing access and
erasure requests now needs a second person (policy-configurable), and the package goes to
the data subject encrypted under a one-time token, downloadable once."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from tests.access.fixtures import FULL_RECORD, ingest

SECRETS = ("13812345678", "张三丰", "11010519850412703X", "科技园")


def _verified(client, officer, cid: str, kind: str) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/v1/dsr", json={"customer_id": cid, "kind": kind}, headers=officer)
    rid = r.get_json()["id"]
    assert client.post(f"/v1/dsr/{rid}/verify", headers=officer).status_code == 200
    return rid


def test_one_officer_alone_cannot_pull_a_customers_data(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    insider = make_api_key("compliance_officer", "data_subject_request")
    rid = _verified(client, insider, cid, "access")
    r = client.post(f"/v1/dsr/{rid}/execute", headers=insider)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "approval_required"
    # Approving one's own request does not make a second person.
    assert client.post(f"/v1/dsr/{rid}/approve", headers=insider).status_code == 200
    r = client.post(f"/v1/dsr/{rid}/execute", headers=insider)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "second_person_required"
    assert not [v for v in SECRETS if v in r.get_data(as_text=True)]
    # Erasure too.
    rid = _verified(client, insider, cid, "deletion")
    r = client.post(f"/v1/dsr/{rid}/execute", headers=insider)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "approval_required"
    r = client.get(f"/v1/customers/{cid}", headers=make_api_key("customer_service", "customer_support"))
    assert r.status_code == 200  # not erased


def test_the_package_reaches_the_subject_once_and_never_the_executor(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    officer = make_api_key("compliance_officer", "data_subject_request")
    second = make_api_key("compliance_officer", "data_subject_request")
    rid = _verified(client, officer, cid, "access")
    assert client.post(f"/v1/dsr/{rid}/approve", headers=second).status_code == 200
    r = client.post(f"/v1/dsr/{rid}/execute", headers=officer)
    assert r.status_code == 200, r.get_json()
    body = r.get_data(as_text=True)
    assert not [v for v in SECRETS if v in body]  # the executor sees a token, not the data
    delivery = r.get_json()["delivery"]
    token = delivery["token"]
    assert delivery["download"] == f"/v1/dsr/{rid}/package"
    # At rest: ciphertext only, and not the token.
    with platform.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM dsr_requests"))
                          for v in row)
    assert not [v for v in SECRETS if v in stored] and token not in stored
    listing = client.get(f"/v1/dsr/{rid}", headers=officer).get_data(as_text=True)
    assert "ciphertext" not in listing and not [v for v in SECRETS if v in listing]
    # A wrong token gets nothing (and consumes nothing).
    wrong = client.post(f"/v1/dsr/{rid}/package", json={"token": token[:-4] + "AAAA"})
    assert wrong.status_code == 404 and wrong.get_json()["error"]["code"] == "package_not_available"
    # The subject downloads it, without any API key.
    got = client.post(f"/v1/dsr/{rid}/package", json={"token": token})
    assert got.status_code == 200 and "11010519850412703X" in got.get_data(as_text=True)
    assert got.headers["Cache-Control"] == "no-store"
    # Once.
    again = client.post(f"/v1/dsr/{rid}/package", json={"token": token})
    assert again.status_code == 404
    state = client.get(f"/v1/dsr/{rid}", headers=officer).get_json()["result"]["delivery"]
    assert state["downloaded_at"] is not None


def test_four_eyes_is_set_in_the_policy_file(tmp_path: Path, config, make_api_key) -> None:  # type: ignore[no-untyped-def]
    from cdp.app import create_app

    pol = tmp_path / "policies"
    shutil.copytree(config.policy_dir, pol)
    path = pol / "retention.toml"
    path.write_text(path.read_text().replace('four_eyes = ["access", "deletion"]',
                                             'four_eyes = ["access", "deletion", "restriction"]'))
    app = create_app(config.with_overrides({"policy_dir": str(pol)}))
    client = app.test_client()
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    officer = make_api_key("compliance_officer", "data_subject_request")
    rid = _verified(client, officer, cid, "restriction")
    r = client.post(f"/v1/dsr/{rid}/execute", headers=officer)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "approval_required"
    app.extensions["cdp"].dispose()

"""POST /v1/records over real HTTP (Flask test client), real API keys and casbin."""

from __future__ import annotations

from tests.identity.identity_records import NAME_A, NID_A, PHONE_A, rec


def test_post_records_per_record_results(client, make_api_key) -> None:
    headers = make_api_key("ingest_service")
    body = [
        rec("jd_health", "h1", [("national_id", NID_A), ("phone", PHONE_A)], name=NAME_A),
        {"source": "jd_health"},
        rec("app", "h2", [("phone", PHONE_A)], name=NAME_A),
    ]
    r = client.post("/v1/records", json=body, headers=headers)
    assert r.status_code == 200
    data = r.get_json()
    assert (data["accepted"], data["rejected"], data["new_customers"]) == (2, 1, 1)
    res = data["results"]
    assert res[1]["status"] == "rejected" and res[1]["index"] == 1
    assert res[0]["status"] == res[2]["status"] == "created"
    assert res[0]["customer_id"] == res[2]["customer_id"]
    again = client.post("/v1/records", json=body[:1], headers=headers).get_json()
    assert again["results"][0]["status"] == "unchanged"
    assert NID_A not in r.get_data(as_text=True)


def test_bad_bodies_are_4xx_json(client, make_api_key) -> None:
    headers = make_api_key("ingest_service")
    for payload in ({"source": "x"}, "text", [], None):
        r = client.post("/v1/records", json=payload, headers=headers)
        assert 400 <= r.status_code < 500 and "error" in r.get_json()
    r = client.post("/v1/records", data=b"{broken", headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_body"
    r = client.post("/v1/records", json=[rec("app", "x")] * 1001, headers=headers)
    assert r.status_code == 422


def test_needs_a_key_whose_role_may_ingest(client, make_api_key) -> None:
    body = [rec("app", "k1", [("phone", PHONE_A)])]
    assert client.post("/v1/records", json=body).status_code == 401
    r = client.post("/v1/records", json=body, headers=make_api_key("marketing"))
    assert r.status_code == 403
    r = client.post("/v1/records", json=body, headers={"Authorization": "Bearer cdp_nope"})
    assert r.status_code == 401

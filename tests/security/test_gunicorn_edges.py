"""Defects 13 and 16 of issue 18 against a live gunicorn with the production settings:
what gunicorn's own parser logs and answers, and bodies streamed past the size limit."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.access.fixtures import FULL_RECORD
from tests.security.live import live_gunicorn, raw_request


def _api_key(platform, role: str) -> str:  # type: ignore[no-untyped-def]
    from cdp.access.apikeys import create_key

    with platform.transaction() as session:
        _, key = create_key(session, role)
    return key


def test_a_malformed_request_line_leaves_no_phone_in_the_log_and_gets_json(  # type: ignore[no-untyped-def]
    config, platform, tmp_path: Path
) -> None:
    with live_gunicorn(config, tmp_path) as (base, errorlog):
        # A client that does not encode spaces in the query string: the request line splits
        # into more parts than HTTP allows, and gunicorn's parser refuses it.
        raw = raw_request(
            base,
            b"GET /v1/customers?identifier_type=phone&value=138 7897 2577 HTTP/1.1\r\n"
            b"Host: x\r\n\r\n",
        )
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), raw[:200]
        assert b"application/json" in head and b"nosniff" in head
        error = json.loads(body)["error"]
        assert error["code"] == "bad_request" and "7897" not in error["message"]
        assert b"7897" not in raw and b"2577" not in raw
        # A healthy request still works on the same server.
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    log = errorlog.read_text()
    assert "Invalid request from ip=127.0.0.1" in log  # the event is still logged...
    # ...without the request's content (fragments with their spaces: a process id or a
    # timestamp in the log may hold the same digits)
    for fragment in ("7897 2577", "138 7897", "identifier_type", "value="):
        assert fragment not in log, fragment


def test_a_chunked_body_over_the_limit_is_413_not_a_cut_422(config, platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cdp.http import MAX_BODY_BYTES

    key = _api_key(platform, "ingest_service")
    record = json.dumps([FULL_RECORD]).encode()
    # A valid JSON array of records padded with whitespace past the limit.
    big = record[:-1] + b" " * (MAX_BODY_BYTES + 1024) + b"]"

    def chunks(data: bytes, size: int = 256 * 1024):  # type: ignore[no-untyped-def]
        for i in range(0, len(data), size):
            yield data[i:i + size]

    with live_gunicorn(config, tmp_path) as (base, _log):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        try:
            r = requests.post(f"{base}/v1/records", data=chunks(big), headers=headers, timeout=30)
        except requests.ConnectionError as err:
            raise AssertionError("the server dropped the connection instead of answering 413") from err
        assert r.status_code == 413, r.text[:300]
        assert r.json()["error"]["code"] == "request_entity_too_large"
        # The same records streamed within the limit are accepted.
        r = requests.post(f"{base}/v1/records", data=chunks(record), headers=headers, timeout=30)
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text[:300]

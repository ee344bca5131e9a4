"""The development server's access log (``cdp serve``) prints request lines: a lookup's query
string carries the identifier searched, so it must not reach the log."""

from __future__ import annotations

import logging
import threading
import urllib.request

from werkzeug.serving import make_server

from cdp.log_config import configure_logging
from tests.logcheck import register_sensitive

PHONE = "13987654321"


def test_lookup_values_stay_out_of_the_access_log(app, make_api_key, caplog) -> None:  # type: ignore[no-untyped-def]
    register_sensitive([PHONE])
    configure_logging()
    headers = make_api_key("customer_service", "customer_support")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1/customers?identifier_type=phone&value={PHONE}"
        request = urllib.request.Request(url, headers=headers)
        with (
            caplog.at_level(logging.INFO, logger="werkzeug"),
            urllib.request.urlopen(request, timeout=30) as resp,  # noqa: S310 - the test's own http URL
        ):
            assert resp.status == 200
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /v1/customers" in line for line in lines), lines
    assert not any(PHONE in line for line in lines), lines

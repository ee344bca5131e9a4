"""The application factory and the HTTP error contract."""

from __future__ import annotations

import os

import pytest

from cdp.app import create_app
from cdp.errors import KeyringError


def test_factory_builds_and_serves_health(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}
    assert resp.headers["X-Request-Id"]


def test_unknown_route_is_json_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_refuses_keyring_others_can_read(config) -> None:  # type: ignore[no-untyped-def]
    os.chmod(config.keyring_path, 0o644)
    with pytest.raises(KeyringError, match="readable by group or others"):
        create_app(config)


def test_refuses_missing_keyring(config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    with pytest.raises(KeyringError, match="cdp init"):
        create_app(replace(config, keyring_path=str(tmp_path / "absent.json")))


def test_response_bodies_say_what_flasks_encoder_says(app) -> None:  # type: ignore[no-untyped-def]
    """Bodies are encoded by orjson (cdp.http.jsonio); what it cannot encode the way Flask does
    (datetimes as HTTP dates, Decimal, integers past 64 bits, str subclasses) goes to Flask's
    own encoder, so every body parses to what Flask's encoder alone would have written."""
    import dataclasses
    import enum
    import json
    import uuid
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from flask.json.provider import DefaultJSONProvider

    class Kind(str, enum.Enum):  # noqa: UP042 - the str mix-in is the case under test
        A = "a"

    @dataclasses.dataclass
    class Point:
        x: int
        label: str

    flask_json = DefaultJSONProvider(app)
    flask_json.ensure_ascii = False
    flask_json.sort_keys = False
    cases = [
        {"name": "张三", "nested": [1, 2.5, None, True, {"k": "v"}], "t": (1, 2)},
        {"at": datetime(2026, 11, 27, 8, 30, tzinfo=UTC), "day": date(2026, 1, 2)},
        {"amount": Decimal("12.30"), "big": 2**70, "id": uuid.UUID(int=7)},
        {"kind": Kind.A, "point": Point(1, "p"), 3: "int key"},
        ["a list", {"b": 1}],
    ]
    with app.app_context():
        for obj in cases:
            ours = app.json.response(obj)
            theirs = flask_json.response(obj)
            assert ours.mimetype == theirs.mimetype == "application/json"
            assert json.loads(ours.get_data()) == json.loads(theirs.get_data()), obj
            assert ours.get_data().endswith(b"\n")
        assert "张三".encode() in app.json.response(cases[0]).get_data()  # UTF-8, not \u escapes


def test_the_shipped_gunicorn_settings_keep_the_access_log_off() -> None:
    """A request line can carry a looked-up identifier (GET /v1/customers?value=...)."""
    import runpy
    from pathlib import Path

    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert conf["accesslog"] is None
    assert conf["worker_class"] == "cdp.http.gunicorn_support.ThreadWorker" and conf["threads"] >= 1
    from gunicorn.workers.gthread import ThreadWorker

    from cdp.http.gunicorn_support import ThreadWorker as Ours

    assert issubclass(Ours, ThreadWorker)
    assert conf["wsgi_app"] == "cdp.wsgi:app"
    # `cdp serve` runs with the very same settings
    from cdp.server import settings

    served = settings(bind="127.0.0.1:1")
    for key in ("accesslog", "worker_class", "threads", "workers", "wsgi_app"):
        assert served[key] == conf[key], key

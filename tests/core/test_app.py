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

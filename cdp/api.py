"""Registers each capability's blueprint under /v1."""

from __future__ import annotations

import importlib

from flask import Flask, jsonify


# Each capability's blueprint module; every blueprint is mounted under /v1.
BLUEPRINT_MODULES: list[str] = [
    "cdp.exports.views",
    "cdp.rights.views",
    "cdp.identity.views",
    "cdp.access.views",
    "cdp.audit.views",
    "cdp.crm.views",
]


def register_blueprints(app: Flask) -> None:
    for module in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(module).bp, url_prefix="/v1")

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify({"status": "ok"})

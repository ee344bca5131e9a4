"""The OpenAPI 3.1 document, generated from the app's routes and pydantic models.

Every rule under /v1 is listed (method, path parameters, the view's docstring); routes
decorated with ``api_doc`` add their query, body and response schemas (pydantic JSON
schema) and whether they need a purpose. Nothing is written by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])
_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


def api_doc(
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    purpose: bool = False,
    tags: list[str] | None = None,
    headers: dict[str, str] | None = None,
    status: int = 200,
    public: bool = False,
    content_types: tuple[str, ...] = ("application/json",),
    body_required: bool = True,
) -> Callable[[F], F]:
    """Attach schema information to a view for the generated document.

    ``status``: the success status the view answers (201 for a creation); ``public``: no
    API key needed (the document then lists no security requirement for it);
    ``content_types``: what a success may be served as (e.g. a CSV alternative).
    """

    def decorate(view: F) -> F:
        # Kept on the view function itself (mypy knows no attributes on a callable).
        view._openapi = {  # type: ignore[attr-defined]
            "query": query,
            "body": body,
            "response": response,
            "purpose": purpose,
            "tags": tags or [],
            "headers": headers or {},
            "status": status,
            "public": public,
            "content_types": content_types,
            "body_required": body_required,
        }
        return view

    return decorate


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        out["headers"] = headers
    return out


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_RATE_HEADERS = {
    **_RETRY_AFTER,
    "X-RateLimit-Limit": {"schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Unix time", "schema": {"type": "integer"}},
}


def build_document(app: Flask, purposes: list[str]) -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                }
            },
            "required": ["error"],
        }
    }
    paths: dict[str, Any] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "_openapi", {})
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        doc = (view.__doc__ or "").strip()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            params: list[dict[str, Any]] = [
                {"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                for a in sorted(rule.arguments)
            ]
            if meta.get("purpose"):
                params.append(
                    {
                        "name": "X-Purpose-Of-Use",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "enum": purposes},
                    }
                )
            for name, desc in meta.get("headers", {}).items():
                params.append(
                    {
                        "name": name,
                        "in": "header",
                        "required": False,
                        "description": desc,
                        "schema": {"type": "string"},
                    }
                )
            if meta.get("query"):
                qs = meta["query"].model_json_schema()
                required = set(qs.get("required", []))
                for name, prop in qs.get("properties", {}).items():
                    params.append(
                        {"name": name, "in": "query", "required": name in required, "schema": prop}
                    )
            success_schema = (
                _schema(meta["response"], components) if meta.get("response") else {"type": "object"}
            )
            content: dict[str, Any] = {}
            for ctype in meta.get("content_types", ("application/json",)):
                content[ctype] = (
                    {"schema": success_schema}
                    if ctype == "application/json"
                    else {"schema": {"type": "string"}}
                )
            status = str(meta.get("status", 200))
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc.splitlines()[0] if doc else rule.endpoint,
                "description": doc,
                "parameters": params,
                # A public route needs no key: an empty list says so (no global default).
                "security": [] if meta.get("public") else [{"apiKey": []}],
                "tags": meta.get("tags") or [rule.endpoint.split(".")[0]],
                "responses": {
                    status: {
                        "description": "Created" if status == "201" else "OK",
                        "content": content,
                    },
                    "4XX": _error("The caller's mistake or a refusal"),
                    "429": _error("A rate limit was reached (see Retry-After)", _RATE_HEADERS),
                    "503": _error("The database is unavailable for a moment; retry", _RETRY_AFTER),
                },
            }
            if meta.get("body"):
                op["requestBody"] = {
                    "required": meta.get("body_required", True),
                    "content": {"application/json": {"schema": _schema(meta["body"], components)}},
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customer data platform API", "version": "1"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <api key>",
                }
            },
        },
    }

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
) -> Callable[[F], F]:
    """Attach schema information to a view for the generated document."""

    def decorate(view: F) -> F:
        # Kept on the view function itself (mypy knows no attributes on a callable).
        view._openapi = {  # type: ignore[attr-defined]
            "query": query,
            "body": body,
            "response": response,
            "purpose": purpose,
            "tags": tags or [],
            "headers": headers or {},
        }
        return view

    return decorate


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


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
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc.splitlines()[0] if doc else rule.endpoint,
                "description": doc,
                "parameters": params,
                "security": [{"apiKey": []}],
                "tags": meta.get("tags") or [rule.endpoint.split(".")[0]],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {
                                "schema": _schema(meta["response"], components)
                                if meta.get("response")
                                else {"type": "object"}
                            }
                        },
                    },
                    "4XX": {
                        "description": "The caller's mistake or a refusal",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
            if meta.get("body"):
                op["requestBody"] = {
                    "required": True,
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

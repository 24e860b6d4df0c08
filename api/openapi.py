"""The OpenAPI document: the bearer-key security scheme, and every route's error responses with
the one error body, so that /docs can send a key and clients (and schemathesis) know each status
a route may answer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SCHEME = "bearerKey"

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "request_id": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

_DESCRIPTIONS = {
    "400": "The body cannot be read (not JSON, or a form that does not parse)",
    "401": "Missing or invalid API key",
    "403": "The key lacks the scope, or the request needs simulation mode",
    "404": "The lead, experiment or decision does not exist",
    "409": "Conflicts with the stored state",
    "413": "Request body over 1 MiB",
    "422": "Invalid input: the field and what was expected",
    "500": "Unexpected error (the body carries the request id of the server's log line)",
    "503": "The store cannot be used",
}


def _error_response(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["schemas"].pop("HTTPValidationError", None)
    components["schemas"].pop("ValidationError", None)
    components["securitySchemes"] = {
        SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: Authorization: Bearer <key>",
        }
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = ["500", "503"]
            if path.startswith("/v1/providers/"):  # signed by the provider, no key
                statuses.append("403")
            elif path.startswith("/v1/"):  # every other /v1 route takes a bearer key
                operation["security"] = [{SCHEME: []}]
                statuses += ["401", "403"]
            has_params = bool(operation.get("parameters"))
            has_body = "requestBody" in operation
            if has_params or has_body:
                statuses.append("422")
            if "{" in path or has_body:  # an id in the path or the body may not exist
                statuses.append("404")
            if method == "post":
                statuses.append("409")
            if has_body:
                statuses += ["400", "413"]
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses[status] = _error_response(status)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

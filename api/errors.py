"""Every error is JSON ``{"error": {"code", "message", "field"?}}``, an unexpected one too
(``internal_error`` with a request id, see :class:`api.requestlog.RequestLog`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from optimizer.errors import Conflict, InvalidInput, NotFound, OptimizerError, StoreError


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return {"error": body}


_STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, StoreError: 503}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OptimizerError)
    async def _optimizer_error(_request: Request, exc: OptimizerError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
        field = ".".join(loc) or None
        value = first.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        message = f"{field or 'request'}: {first.get('msg', 'invalid')}{shown}"
        body = error_body("validation_error", message, field)
        body["error"]["details"] = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e["msg"],
            }
            for e in errors
        ]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "error" in exc.detail:
            body = exc.detail
        else:
            code = {
                400: "bad_request",
                401: "unauthorized",
                403: "forbidden",
                404: "not_found",
                405: "method_not_allowed",
                413: "payload_too_large",
            }.get(exc.status_code, "http_error")
            body = error_body(code, str(exc.detail))
        return JSONResponse(
            body, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )


def http_error(status: int, code: str, message: str, field: str | None = None) -> HTTPException:
    return HTTPException(status_code=status, detail=error_body(code, message, field))

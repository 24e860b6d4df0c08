"""Every error is JSON ``{"error": {"code", "message", "field"?}}``, an unexpected one too
(``internal_error`` with a request id, see :class:`CatchAll`)."""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


logger = logging.getLogger("api.errors")

_DIGIT_RUN = re.compile(r"\d{4,}")
_PROJECT_PARTS = ("/api/", "/optimizer/")


def _mask(text: str) -> str:
    """Digit runs of four or more (a phone number, an id in a path) as ``#``."""
    return _DIGIT_RUN.sub(lambda m: "#" * len(m.group()), text)


def _location(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of the project's own code (else the innermost)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if any(part in f.filename for part in _PROJECT_PARTS)]
    if not (ours or frames):
        return "unknown"
    frame = (ours or frames)[-1]
    name = frame.filename
    for part in _PROJECT_PARTS:
        if part in name:
            name = part.strip("/") + "/" + name.split(part, 1)[1]
            break
    return f"{name}:{frame.lineno} in {frame.name}"


class CatchAll:
    """Pure ASGI middleware, outermost: an exception no handler took becomes a 500 with the JSON
    error body and a request id (also in ``X-Request-ID``), and one log line with the request
    id, the route, the exception's type and where it was raised. The exception's message and
    traceback are not logged (they may hold a phone number or a message's text), and nothing is
    re-raised, so neither Starlette nor uvicorn prints them either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            request_id = uuid.uuid4().hex
            route = getattr(scope.get("route"), "path", None) or _mask(scope.get("path", "?"))
            logger.error(
                "request %s %s %s failed: %s at %s%s",
                request_id,
                scope.get("method", "?"),
                route,
                type(exc).__name__,
                _location(exc),
                " (after the response started)" if started else "",
            )
            if started:  # too late for a status: the connection is closed as it is
                return
            body = error_body(
                "internal_error",
                f"internal error; the server's log has the details under request id {request_id}",
            )
            body["error"]["request_id"] = request_id
            payload = json.dumps(body).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})

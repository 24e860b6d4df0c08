"""One log line per request, one request id, and the catch-all 500.

:class:`RequestLog` is the outermost middleware. Each request gets an id — the caller's
``X-Request-ID`` when it is sane (1 to 128 letters, digits, ``.``, ``_``, ``-``, and nothing a
phone-number mask would change), else a new one — that every response carries back in
``X-Request-ID``, that every log line written while the request runs carries (structlog's
context variables), and that an internal error's body names. When the response is done, one
line: ``event=request`` with the request id, method, route template, status, latency in ms,
and the lead id and decision id where the route has them (path parameters, or what the route
adds with :func:`annotate`). Bodies, headers and query strings are never logged.

An exception no handler took becomes a 500 with the JSON error body and the request id; the
request's line then names the exception's type and where it was raised, not its message or its
traceback (they may hold a phone number or a message's text), and nothing is re-raised, so
neither Starlette nor uvicorn prints them either.
"""

from __future__ import annotations

import json
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from optimizer.logs import get_logger, mask_text

logger = get_logger("api.request")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DIGIT_RUN = re.compile(r"\d{4,}")
_PROJECT_PARTS = ("/api/", "/optimizer/")
# Path parameters that name what a request is about, logged under their own names.
_ID_PARAMS = ("lead_id", "decision_id", "experiment_id")

_FIELDS: ContextVar[dict[str, Any] | None] = ContextVar("request_log_fields", default=None)


def annotate(**fields: Any) -> None:
    """Add fields (``lead_id=…``, ``decision_id=…``) to the current request's log line; a
    ``None`` is left out. Works from the route's thread too (the dict is shared, not copied)."""
    current = _FIELDS.get()
    if current is not None:
        current.update({key: value for key, value in fields.items() if value is not None})


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` if sane, else a new random one."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER:
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _SANE_REQUEST_ID.fullmatch(text) and mask_text(text) == text:
                return text
            break
    return uuid.uuid4().hex


def _mask_path(text: str) -> str:
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


def _path_ids(scope: Scope) -> dict[str, Any]:
    params = scope.get("path_params") or {}
    found: dict[str, Any] = {}
    for name in _ID_PARAMS:
        value = params.get(name)
        if isinstance(value, int):
            found[name] = value
        elif isinstance(value, str) and 0 < len(value) <= 64:
            found[name] = int(value) if value.isdigit() and len(value) < 19 else value
    return found


class RequestLog:
    """Pure ASGI middleware, outermost (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = request_id_from(scope.get("headers") or [])
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        fields: dict[str, Any] = {}
        status = 500
        started = False

        async def identified_send(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER
                ]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = _FIELDS.set(fields)
        error: dict[str, Any] = {}
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, identified_send)
            except Exception as exc:
                error = {"error": type(exc).__name__, "error_at": _location(exc)}
                if started:  # too late for a status: the connection is closed as it is
                    error["after_response_started"] = True
                else:
                    status = 500
                    await _internal_error(send, request_id, header)
            finally:
                _FIELDS.reset(token)
                route = getattr(scope.get("route"), "path", None)
                line: dict[str, Any] = {
                    "method": scope.get("method", "?"),
                    "route": route,
                    "status": status,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 3),
                }
                if route is None:
                    line["path"] = _mask_path(scope.get("path", "?"))[:200]
                line.update(_path_ids(scope))
                line.update(fields)
                line.update(error)
                if status >= 500:
                    logger.error("request", **line)
                else:
                    logger.info("request", **line)


async def _internal_error(send: Send, request_id: str, header: tuple[bytes, bytes]) -> None:
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
                header,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})

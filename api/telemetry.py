"""Prometheus metrics: decisions by action and reason code, request latency."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimizer.decide.types import DecisionRecord

REGISTRY = CollectorRegistry()
DECISIONS = Counter(
    "optimizer_decisions_total", "Decisions by action.", ["action"], registry=REGISTRY
)
DECISION_REASONS = Counter(
    "optimizer_decision_reasons_total",
    "Reason codes attached to decisions (top-level code, e.g. quiet_hours).",
    ["code"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "optimizer_request_seconds",
    "Request latency by route.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def observe_decision(record: DecisionRecord) -> None:
    DECISIONS.labels(action=record.action).inc()
    for code in {r.code.split(".")[0] for r in (*record.reasons, *record.compliance_reasons)}:
        DECISION_REASONS.labels(code=code).inc()


class RequestTiming:
    """Pure ASGI middleware observing each HTTP request's latency by route and status (a
    ``BaseHTTPMiddleware`` would add a task and a stream per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(scope["method"], path, str(status)).observe(time.perf_counter() - start)


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestTiming)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

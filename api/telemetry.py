"""Prometheus metrics: decisions by action and reason code, request latency."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

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


def install_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def _timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        LATENCY.labels(request.method, path, str(response.status_code)).observe(
            time.perf_counter() - start
        )
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""Prometheus metrics: decisions by action and reason code, request latency, requests in
progress, models answering with their baseline.

With several server processes (``optimizer serve --workers N``), ``PROMETHEUS_MULTIPROC_DIR``
is set before the workers start (``optimizer.cli.serve.prepare_multiprocess_dir``): each process then writes
its values to files there (prometheus_client's multiprocess mode, chosen when the library is
imported), and ``/metrics`` — whichever worker answers — reads them all with a
``MultiProcessCollector``, so counters and histograms are sums over the workers, and the gauges
aggregate as their ``multiprocess_mode`` says (over live processes only).
"""

from __future__ import annotations

import glob
import os
import re
import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimizer.decide.types import DecisionRecord

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

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
# Summed over the live server processes.
IN_PROGRESS = Gauge(
    "optimizer_requests_in_progress",
    "HTTP requests being handled now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
# The largest over the live server processes: 1 or more when any worker answers with a
# baseline because a model failed to load (its /readyz says why).
MODEL_FALLBACKS = Gauge(
    "optimizer_models_on_fallback",
    "Models answering with their baseline because the champion failed to load.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
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

        IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, timed_send)
        finally:
            IN_PROGRESS.dec()
            path = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(scope["method"], path, str(status)).observe(time.perf_counter() - start)


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when this process runs in it."""
    return os.environ.get(MULTIPROC_ENV) or None


_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of server processes that are gone (uvicorn restarts a worker that
    died, and has no hook to say so)."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _LIVE_FILE.search(name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:  # alive, another user's
            continue


def render_metrics() -> bytes:
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    _forget_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestTiming)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)

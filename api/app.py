"""The FastAPI application factory.

``create_app()`` builds the app; the lifespan opens the store, upgrades it to the newest
schema and keeps everything the routes need in ``app.state.optimizer``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.openapi import install_openapi
from api.requestlog import RequestLog
from api.routes import health
from api.state import AppState
from api.telemetry import install_metrics
from optimizer import __version__
from optimizer.ingest.keys import VerifiedKeyCache
from optimizer.logs import configure_structlog
from optimizer.settings import Settings, get_settings
from optimizer.store.db import (
    checkpoint,
    checkpoint_round,
    make_engine,
    session_factory,
    upgrade,
)

logger = logging.getLogger(__name__)

# Routers of the product areas, each a module of api/routes exposing `router`.
_OPTIONAL_ROUTERS: tuple[str, ...] = (
    "leads",
    "events",
    "decisions",
    "experiments",
    "admin",
    "reports",
    "handoffs",
    "ui",
    "providers",
)


def _load_models(state: AppState) -> None:
    try:
        state.decisions()
    except Exception:  # logged; /readyz reports the failure, decisions retry the load
        logger.exception("loading the decision models failed")


def _warm_up_gate(settings: Settings) -> None:
    """Fill the gate's holiday and time-zone caches, so the first decision for a state does not
    pay for them (a failure here costs only that)."""
    from api.deps import server_now
    from optimizer.compliance.policy import policy_from_settings
    from optimizer.compliance.warmup import warm_up

    try:
        warm_up(
            server_now(), policy_from_settings(settings, settings.policy), settings.horizon_hours
        )
    except Exception:
        logger.exception("warming up the compliance gate failed")
    # The reply-intent classifier is trained on first use: train it now, so that the first
    # inbound message does not wait for it (shipped_model never raises: rules then stand alone).
    from optimizer.compliance.intent import shipped_model

    shipped_model()


async def _checkpoint_every(state: AppState, seconds: float) -> None:
    """Checkpoint SQLite's write-ahead log every ``seconds`` on a thread of its own, so that no
    request's commit pays for copying it back, and truncate the log when it has grown
    (:func:`optimizer.store.db.checkpoint_round`); a no-op on PostgreSQL."""
    engine = state.write_engine
    if engine is None or engine.dialect.name != "sqlite":
        return
    limiter = anyio.CapacityLimiter(1)
    step = functools.partial(checkpoint_round, engine, writer_turn=state.writer_turn)
    while True:
        await anyio.sleep(seconds)
        try:
            await anyio.to_thread.run_sync(step, limiter=limiter)
        except Exception:  # logged; the next round tries again
            logger.exception("checkpointing the write-ahead log failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    resolved = settings or get_settings()
    configure_structlog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Decisions are CPU-bound Python: a few threads keep the core busy; forty (anyio's
        # default) only contend for the interpreter lock once a queue forms, and each new thread
        # brings a cold database connection.
        anyio.to_thread.current_default_thread_limiter().total_tokens = resolved.server_threads
        url = resolved.resolved_database_url()
        pool_size, max_overflow = resolved.resolved_pool()
        # SQLite: commits never checkpoint the write-ahead log; a background task does.
        engine = make_engine(
            url, autocheckpoint=False, pool_size=pool_size, max_overflow=max_overflow
        )
        _before, revision = upgrade(engine)
        # SQLite: writing units of work take the write lock when they begin, on an engine of
        # their own. PostgreSQL has no such mode: one engine, so that its pool is the process's
        # connections (resolved_pool).
        write_engine = (
            make_engine(
                url,
                immediate=True,
                autocheckpoint=False,
                pool_size=pool_size,
                max_overflow=max_overflow,
            )
            if engine.dialect.name == "sqlite"
            else engine
        )
        app.state.optimizer = AppState(
            settings=resolved,
            engine=engine,
            sessions=session_factory(engine),
            schema_revision=revision,
            write_engine=write_engine,
            write_sessions_factory=session_factory(write_engine),
            keys=VerifiedKeyCache(resolved.key_cache_seconds),
            decision_limiter=anyio.CapacityLimiter(resolved.resolved_decision_threads()),
        )
        try:
            # Load the champions now, so the first decision does not pay for it; a model that
            # cannot load leaves the service up (the baselines answer) and /readyz says why.
            await anyio.to_thread.run_sync(_load_models, app.state.optimizer)
            await anyio.to_thread.run_sync(_warm_up_gate, resolved)
            # What start-up loaded (libraries, models, the ORM) lives as long as the process:
            # move it out of the cyclic collector's way, so a full collection during a request
            # walks only what requests allocated.
            gc.collect()
            gc.freeze()
            sys.setswitchinterval(resolved.switch_interval_ms / 1000)
            checkpoints = asyncio.create_task(
                _checkpoint_every(app.state.optimizer, resolved.checkpoint_seconds)
            )
            try:
                yield
            finally:
                checkpoints.cancel()
                try:
                    await anyio.to_thread.run_sync(checkpoint, write_engine)
                except Exception:  # the next start replays the log; nothing is lost
                    logger.exception("the last checkpoint of the write-ahead log failed")
        finally:
            engine.dispose()
            write_engine.dispose()

    app = FastAPI(
        title="SMS send optimizer",
        version=__version__,
        description=(
            "Next best action for SMS follow-up: which lead to text, with which message, at what "
            "time, or not at all. Every decision passes the compliance gate."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_metrics(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(health.router)
    for module_name in _OPTIONAL_ROUTERS:
        module = importlib.import_module(f"api.routes.{module_name}")
        app.include_router(module.router)
    # Added last: outermost, it sees every response (the request id, the log line) and what
    # every other middleware raised (the catch-all 500).
    app.add_middleware(RequestLog)
    install_openapi(app)
    return app

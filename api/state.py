"""What the app holds for its lifetime: settings, the engine, sessions and the loaded models."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from api.telemetry import MODEL_FALLBACKS
from optimizer.ingest.keys import VerifiedKeyCache
from optimizer.settings import Settings
from optimizer.store.db import Engine, SessionFactory

if TYPE_CHECKING:
    from optimizer.decide.service import DecisionService


@dataclass
class AppState:
    """``sessions`` read (and compute) without locking; ``write_sessions`` are short writing
    units of work (on SQLite they take the write lock when they begin)."""

    settings: Settings
    engine: Engine
    sessions: SessionFactory
    schema_revision: str | None
    write_engine: Engine | None = None
    write_sessions_factory: SessionFactory | None = None
    decision_service: DecisionService | None = None
    keys: VerifiedKeyCache = field(default_factory=lambda: VerifiedKeyCache(0.0))
    # Threads that single-lead decisions run on (set at start-up from decision_threads).
    decision_limiter: anyio.CapacityLimiter | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # SQLite has one writer: this process's writing units of work queue here, in order, rather
    # than poll the database's lock with SQLite's busy handler (sleeps of up to 100 ms).
    _writer: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def writer_turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite); on PostgreSQL writers run side by side and
        serialise per number with advisory locks (:mod:`optimizer.store.locks`)."""
        if self.engine.dialect.name != "sqlite":
            yield
            return
        with self._writer:
            yield

    # Monotonic time after which models that failed to load are tried again.
    _retry_at: float = 0.0

    @property
    def write_sessions(self) -> SessionFactory:
        return self.write_sessions_factory or self.sessions

    def decisions(self) -> DecisionService:
        """The decision service, with its models loaded once (champions from MLflow)."""
        service = self.decision_service
        if service is not None and not (
            service.models.failures and time.monotonic() >= self._retry_at
        ):
            return service
        # A model that fails to load gives its baseline (LoadedModels.load does not raise for
        # that) and is tried again after model_retry_seconds, by one request: the others keep
        # the service they have meanwhile rather than wait.
        if not self._lock.acquire(blocking=service is None):
            assert service is not None
            return service
        try:
            current = self.decision_service
            if current is None or (current.models.failures and time.monotonic() >= self._retry_at):
                current = self.load_decision_service()
                self.decision_service = current
                self._retry_at = time.monotonic() + self.settings.model_retry_seconds
            return current
        finally:
            self._lock.release()

    def load_decision_service(self) -> DecisionService:
        from optimizer.decide.models import LoadedModels
        from optimizer.decide.service import DecisionService

        models = LoadedModels.load(self.settings)
        MODEL_FALLBACKS.set(len(models.failures))
        return DecisionService(settings=self.settings, models=models, seed=self.settings.seed)

    def reload_models(self) -> DecisionService:
        service = self.load_decision_service()
        with self._lock:
            self.decision_service = service
            self._retry_at = time.monotonic() + self.settings.model_retry_seconds
        return service

    def model_failures(self) -> dict[str, str]:
        """Reason code -> why, for each model whose baseline answers because it failed to load."""
        return dict(self.decisions().models.failures)

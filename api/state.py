"""What the app holds for its lifetime: settings, the engine, sessions and the loaded models."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from optimizer.settings import Settings

if TYPE_CHECKING:
    from optimizer.decide.service import DecisionService


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    schema_revision: str | None
    decision_service: DecisionService | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decisions(self) -> DecisionService:
        """The decision service, with its models loaded once (champions from MLflow)."""
        if self.decision_service is None:
            with self._lock:
                if self.decision_service is None:
                    self.decision_service = self.load_decision_service()
        return self.decision_service

    def load_decision_service(self) -> DecisionService:
        from optimizer.decide.models import LoadedModels
        from optimizer.decide.service import DecisionService

        models = LoadedModels.load(self.settings)
        return DecisionService(settings=self.settings, models=models, seed=self.settings.seed)

    def reload_models(self) -> DecisionService:
        service = self.load_decision_service()
        with self._lock:
            self.decision_service = service
        return service

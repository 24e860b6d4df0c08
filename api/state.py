"""What the app holds for its lifetime: settings, the engine and the session factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from optimizer.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    schema_revision: str | None
    services: dict[str, Any] = field(default_factory=dict)

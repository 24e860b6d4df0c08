"""A store filled once per test session with the factory's small world (reports only read it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from optimizer.store.db import make_engine, session_factory, upgrade
from tests.reports.factory import World, fill_store


@dataclass(frozen=True)
class Filled:
    sessions: sessionmaker[Session]
    world: World


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    path: Path = tmp_path_factory.mktemp("reports") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        world = fill_store(session)
        session.commit()
    yield Filled(sessions=sessions, world=world)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session on a fresh, empty store (for hand-built cases)."""
    with sessions() as s:
        yield s

from __future__ import annotations

import datetime as dt

import pytest

from optimizer.simulation import SimConfig, World

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture(scope="session")
def small_world() -> World:
    return World.create(SimConfig(seed=11, history_leads=200), start=START, days=10, arrivals=1500)

"""A store filled by the simulator through the real API, with an experiment that holds leads out.

The demo's engine (:class:`optimizer.demo.http_engine.HttpEngine`) drives the simulated world
against a real server: first touches by next-best-action, follow-ups by the batch, every text
confirmed at dispatch, outcomes posted back. The experiment holds out ``share`` of its leads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from optimizer.demo.http_engine import HttpEngine
from optimizer.demo.templates import DEMO_VARIANTS
from optimizer.settings import Settings
from optimizer.simulation import SimConfig, World, run_world
from tests.api.conftest import serve

START = dt.datetime(2026, 10, 5, 4, 0, tzinfo=dt.UTC)  # a Monday, before dawn in the US


@dataclass(frozen=True)
class SimulatedStore:
    settings: Settings
    experiment_id: int
    end: dt.datetime
    texts: int


def simulate_holdout_store(
    var_dir: Path,
    *,
    mlflow_uri: str,
    arrivals: int,
    days: int,
    share: float,
    seed: int = 7,
) -> SimulatedStore:
    settings = Settings(
        var_dir=var_dir,
        mlflow_tracking_uri=mlflow_uri,
        simulation=True,
        brand_name="Acme Home Services",
        seed=seed,
    )
    world = World.create(
        SimConfig(seed=seed, history_leads=0),
        start=START,
        days=days,
        arrivals=arrivals,
        brand=settings.brand_name,
    )
    for server in serve(settings):
        with server.client() as client:
            created = client.post(
                "/v1/experiments",
                json={
                    "name": "first-touch-message",
                    "metric": "reply",
                    "policy": "thompson",
                    "variants": [{"name": n, "template": t} for n, t in DEMO_VARIANTS],
                    "control": "plain",
                    "seed": seed,
                    "holdout": share,
                },
            )
            assert created.status_code == 201, created.text
            experiment_id = int(created.json()["id"])
            engine = HttpEngine(client, experiment_id=experiment_id, brand=settings.brand_name)
            report = run_world(world, engine, start=START, days=days)
    return SimulatedStore(
        settings=settings,
        experiment_id=experiment_id,
        end=START + dt.timedelta(days=days),
        texts=report.texts_sent,
    )

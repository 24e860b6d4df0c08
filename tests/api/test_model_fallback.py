"""A model that cannot be loaded: decisions answer with the baselines and say so, /readyz says
degraded and why, nothing answers 500, and a store that comes back is picked up."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest

from optimizer.models.mlflow_store import forget
from optimizer.settings import Settings
from tests.api.conftest import LiveServer
from tests.api.helpers import codes, decide, new_lead

NOW = dt.datetime(2026, 3, 3, 19, tzinfo=dt.UTC)  # a Tuesday, 14:00 in New York


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    """An MLflow store that is not a database (a corrupted file)."""
    broken = tmp_path / "mlflow.db"
    broken.write_bytes(b"this is not an sqlite database\n" * 200)
    forget()
    return Settings(
        var_dir=tmp_path / "var",
        mlflow_tracking_uri=f"sqlite:///{broken}",
        simulation=True,
        brand_name="Acme Dental",
        seed=11,
        model_retry_seconds=0.5,
    )


def test_corrupted_mlflow_store_falls_back_to_baselines(
    live_server: LiveServer, _mlflow_template: Path
) -> None:
    with live_server.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "degraded"
        assert set(body["checks"]["fallbacks"]) == {
            "models.fallback.lead_score",
            "models.fallback.send_time",
            "models.fallback.uplift",
        }
        assert "not a database" in body["checks"]["fallbacks"]["models.fallback.lead_score"]

        lead = new_lead(client, phone="(212) 555-0142", created_at=NOW)
        for minutes in (1, 2, 3):
            decision = decide(client, lead["id"], NOW + dt.timedelta(minutes=minutes))
            assert "models.fallback.lead_score" in codes(decision)
            assert "models.fallback.send_time" in codes(decision)
            assert "models.fallback.uplift" in codes(decision)
            assert decision["model_versions"] == {
                "lead-score": "baseline:points",
                "send-time": "send-time:priors",
            }
        assert client.get("/v1/models").status_code == 200

        # The store comes back (a good copy restored): within model_retry_seconds the
        # decisions load it, and no fallback is reported any more.
        uri = live_server.settings.mlflow_tracking_uri
        shutil.copyfile(_mlflow_template, uri.removeprefix("sqlite:///"))
        forget(uri)
        time.sleep(0.6)
        deadline = time.monotonic() + 20
        while client.get("/readyz").json()["status"] != "ready":
            assert time.monotonic() < deadline, client.get("/readyz").text
            time.sleep(0.3)
        decision = decide(client, lead["id"], NOW + dt.timedelta(minutes=5))
        assert not [c for c in codes(decision) if c.startswith("models.fallback")]

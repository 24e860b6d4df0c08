""" "Evaluate before rollout": ``evaluate-policy --log store`` records its result in the store
(migration 0004) and the experiment page shows the newest ones (real SQLite store, the CLI,
the real app over HTTP)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

import api.app
from optimizer.bandits.experiment_store import record_send
from optimizer.cli import main
from optimizer.errors import InvalidInput, NotFound
from optimizer.ingest.keys import create_key
from optimizer.ope.variants import logged_value
from optimizer.reports.experiments import (
    MIN_EFFECTIVE_SAMPLE,
    experiment_report,
    rollout_verdict,
)
from optimizer.settings import Settings
from optimizer.store.db import _alembic_config, transaction, upgrade
from optimizer.store.models import Decision
from optimizer.store.policy_evaluations import latest_evaluations, record_evaluation
from tests.bandits.conftest import make_experiment
from tests.ope.test_store_log import RATES, store_cli  # noqa: F401 - a fixture
from tests.ope.test_store_log import _fill as _fill_log

AT = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
ARGS = ["experiments", "evaluate-policy", "--log", "store", "--no-mlflow", "--resamples", "300"]


def _fill(sessions: sessionmaker[Session], n: int, seed: int) -> tuple[int, dict[str, float]]:
    """The OPE tests' log, with each send also counted in the arms (as confirm counts it), so
    the experiment's own report reads it."""
    experiment_id, by_hand = _fill_log(sessions, n, seed)
    with transaction(sessions) as session:
        for variant_id, propensity in session.execute(
            select(Decision.variant_id, Decision.propensity).where(
                Decision.experiment_id == experiment_id
            )
        ):
            record_send(
                session,
                experiment_id=experiment_id,
                variant_id=variant_id,
                propensity=propensity,
            )
    return experiment_id, by_hand


def _payload(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def site(engine: Engine, sessions: sessionmaker[Session], tmp_path, monkeypatch) -> Iterator:
    """The app on the test's store with the ui and reports routers, and a read key."""
    settings = Settings(
        var_dir=tmp_path / "var", database_url=engine.url.render_as_string(hide_password=False)
    )
    with transaction(sessions) as session:
        key = create_key(session, scopes=["read"], name="ui", now=AT).plaintext
    monkeypatch.setattr(api.app, "_OPTIONAL_ROUTERS", ("ui", "reports"))
    if hasattr(api.app, "_load_models"):
        monkeypatch.setattr(api.app, "_load_models", lambda state: None)
    with TestClient(api.app.create_app(settings), follow_redirects=False) as client:
        response = client.post("/ui/login", data={"key": key, "next": "/ui/experiments"})
        assert response.status_code == 303, response.text
        yield client, key


@pytest.mark.usefixtures("store_cli")
def test_cli_records_each_run_and_the_page_shows_the_newest(sessions, site, capsys):
    experiment_id, _ = _fill(sessions, 1500, 2)
    client, key = site
    page = client.get(f"/ui/experiments/{experiment_id}").text
    assert 'id="evaluate-before-rollout"' in page
    assert "No candidate policy has been evaluated" in page
    assert f"--experiment {experiment_id} --policy" in page

    assert main([*ARGS, "--experiment", str(experiment_id), "--policy", "variant:C"]) == 0
    first = _payload(capsys.readouterr().out)
    assert main([*ARGS, "--experiment", str(experiment_id), "--policy", "variant:A"]) == 0
    second = _payload(capsys.readouterr().out)
    assert first["evaluation_id"] and second["evaluation_id"] > first["evaluation_id"]
    with transaction(sessions) as session:
        stored = latest_evaluations(session, experiment_id)
    assert [e.policy for e in stored] == ["variant:A", "variant:C"]  # newest first
    c = stored[1]
    assert c.rows == 1500 and c.pending == 1 and c.logging_policy == "thompson"
    assert c.candidate == {"A": 0.0, "B": 0.0, "C": 1.0}
    assert c.estimates["dr"].value == pytest.approx(first["estimates"]["dr"]["value"])
    mean, low, high = (
        first["current"]["value"],
        first["current"]["ci_low"],
        first["current"]["ci_high"],
    )
    assert c.current_value == pytest.approx(mean) and low < mean < high

    report = experiment_report_of(sessions, experiment_id)
    by_policy = {e.policy: e for e in report.evaluations}
    # C replies at 35 %, the logged mix (mostly A, 10 %) far less: C is likely better, A worse.
    assert by_policy["variant:C"].verdict_kind == "better"
    assert by_policy["variant:C"].ci_low <= RATES[2] <= by_policy["variant:C"].ci_high
    assert by_policy["variant:A"].verdict_kind == "worse"
    assert by_policy["variant:C"].headline == "dr"

    page = client.get(f"/ui/experiments/{experiment_id}").text
    assert "No candidate policy has been evaluated" not in page
    assert page.count('class="evaluation verdict-') == 2
    assert "Likely better than the current policy" in page
    assert "Likely worse than the current policy" in page
    assert page.index("variant:A") < page.index("variant:C")  # newest first
    # The JSON report carries the same.
    headers = {"Authorization": f"Bearer {key}"}
    body = client.get(f"/v1/reports/experiments/{experiment_id}", headers=headers).json()
    assert [e["policy"] for e in body["evaluations"]] == ["variant:A", "variant:C"]
    assert body["evaluations"][1]["verdict_kind"] == "better"

    # --no-record evaluates without writing.
    assert (
        main([*ARGS, "--no-record", "--experiment", str(experiment_id), "--policy", "uniform"]) == 0
    )
    assert _payload(capsys.readouterr().out)["evaluation_id"] is None
    with transaction(sessions) as session:
        assert len(latest_evaluations(session, experiment_id, limit=10)) == 2


def experiment_report_of(sessions, experiment_id):  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        return experiment_report(session, experiment_id=experiment_id)


@pytest.mark.usefixtures("store_cli")
def test_unknown_experiment_is_a_clear_error_and_nothing_is_written(sessions, capsys):
    assert main([*ARGS, "--experiment", "4242", "--policy", "uniform"]) == 2
    assert "experiment 4242 does not exist" in capsys.readouterr().err
    with transaction(sessions) as session, pytest.raises(NotFound, match="4242"):
        record_evaluation(session, **_row(4242))


def _row(experiment_id: int, **changes: object) -> dict:
    row: dict = {
        "experiment_id": experiment_id,
        "policy": "uniform",
        "candidate": {"A": 0.5, "B": 0.5},
        "metric": "reply",
        "rows": 40,
        "pending": 0,
        "current": (0.2, 0.1, 0.3),
        "estimates": {"dr": {"value": 0.25, "ci_low": 0.15, "ci_high": 0.35}},
        "effective_sample_size": 30.0,
        "max_weight": 2.0,
        "seed": 1,
        "resamples": 100,
        "mlflow_run_id": None,
        "evaluated_at": AT,
    }
    row.update(changes)
    return row


def test_non_finite_figures_are_refused_or_stored_as_missing(sessions, site):
    client, _ = site
    with transaction(sessions) as session:
        experiment = make_experiment(session, metric="reply", n_variants=2)
        experiment_id = experiment.id
    with transaction(sessions) as session:
        for bad in (
            {"current": (math.nan, 0.1, 0.3)},
            {"effective_sample_size": math.inf},
            {"candidate": {"A": math.nan}},
            {"evaluated_at": AT.replace(tzinfo=None)},
            {"policy": ""},
            {"policy": "x" * 201},
        ):
            with pytest.raises(InvalidInput):
                record_evaluation(session, **_row(experiment_id, **bad))
        # An estimator that gave NaN or ±inf: stored as null, read as missing, shown as "—".
        record_evaluation(
            session,
            **_row(
                experiment_id,
                estimates={
                    "dr": {"value": math.nan, "ci_low": -math.inf, "ci_high": math.inf},
                    "ipw": {"value": 0.21, "ci_low": 0.11, "ci_high": 0.31},
                },
            ),
        )
    with transaction(sessions) as session:
        (stored,) = latest_evaluations(session, experiment_id)
        report = experiment_report(session, experiment_id=experiment_id)
    assert stored.estimates["dr"].value is None and stored.estimates["dr"].ci_low is None
    (card,) = report.evaluations
    assert card.headline == "dr" and card.verdict_kind == "unavailable"
    assert card.small_sample  # 30 effective sends
    page = client.get(f"/ui/experiments/{experiment_id}").text
    assert "No estimate" in page and "small effective sample" in page
    card_html = page[page.index('id="evaluate-before-rollout"') :]
    card_html = card_html[: card_html.index("</section>")]
    assert "nan" not in card_html.lower() and "inf" not in card_html.lower()  # no raw NaN
    assert "— – —" in card_html  # DR's figures shown as missing; IPW's as figures
    assert "21.00%" in card_html


def test_rollout_verdict_reads_the_interval_against_the_current_value():
    assert rollout_verdict(0.21, 0.30, 0.20)[0] == "better"
    assert rollout_verdict(0.10, 0.19, 0.20)[0] == "worse"
    assert rollout_verdict(0.10, 0.30, 0.20)[0] == "not_distinguishable"
    assert rollout_verdict(0.20, 0.30, 0.20)[0] == "not_distinguishable"  # touching: not sure
    assert rollout_verdict(None, 0.30, 0.20)[0] == "unavailable"
    assert MIN_EFFECTIVE_SAMPLE > 0


def test_logged_value_interval():
    import numpy as np

    mean, low, high = logged_value(np.array([1.0, 0.0, 0.0, 1.0]), "reply")
    assert mean == 0.5 and 0.0 < low < 0.5 < high < 1.0
    mean, low, high = logged_value(np.array([10.0, 0.0, 5.0]), "revenue")
    assert mean == 5.0 and low < 5.0 < high
    with pytest.raises(InvalidInput, match="no sends"):
        logged_value(np.array([]), "reply")


def test_rows_are_append_only_and_the_migration_goes_down_and_up(engine: Engine, sessions):
    with transaction(sessions) as session:
        experiment_id = make_experiment(session, metric="reply", n_variants=2).id
        record_evaluation(session, **_row(experiment_id))
    for sql in ("UPDATE policy_evaluations SET rows = 1", "DELETE FROM policy_evaluations"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    command.downgrade(_alembic_config(engine), "0003")
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    assert "policy_evaluations" not in names and "experiments" in names
    upgrade(engine)
    with transaction(sessions) as session:
        assert latest_evaluations(session, experiment_id) == []
        record_evaluation(session, **_row(experiment_id))
    with transaction(sessions) as session:
        assert len(latest_evaluations(session, experiment_id)) == 1

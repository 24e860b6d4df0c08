"""An experiment with the contextual Thompson policy over real HTTP: created through the API,
it decides per segment (lead vertical and score band), logs the propensity and learns from the
replies the decision log attributes to each segment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from optimizer.reports.experiments import choice_reason
from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, decide, iso, new_lead

# Tuesday 17 Nov 2026, 14:00 in New York (EST, UTC-5).
NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


def _experiment(client: httpx.Client, name: str, **extra: Any) -> httpx.Response:
    return client.post(
        "/v1/experiments",
        json={
            "name": name,
            "metric": "reply",
            "policy": "contextual_thompson",
            "variants": [
                {"name": "A", "template": TEMPLATE},
                {"name": "B", "template": TEMPLATE.replace("one tap", "a tap")},
            ],
            "seed": 5,
            **extra,
        },
    )


def _bandit_reason(decision: dict[str, Any]) -> str:
    return next(r["message"] for r in decision["reasons"] if r["code"] == "variant.bandit")


def test_a_contextual_experiment_decides_per_segment_and_logs_its_propensity(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        created = _experiment(
            client, "contextual", params={"burn_in": 2, "prior_strength": 5, "min_share": 0.05}
        )
        assert created.status_code == 201, created.text
        experiment = created.json()
        assert experiment["policy"] == "contextual_thompson"
        variant = {v["name"]: v["id"] for v in experiment["variants"]}
        verticals = ["retail", "b2b", None]
        leads = [
            new_lead(
                client,
                phone=f"(212) 555-04{i:02d}",
                created_at=NOW - dt.timedelta(days=1),
                vertical=verticals[i % 3],
                source="web_form",
            )
            for i in range(30)
        ]
        first = {
            lead["id"]: decide(client, lead["id"], NOW, experiment_id=experiment["id"])
            for lead in leads
        }
        for lead, decision in zip(leads, first.values(), strict=True):
            assert decision["action"] in ("send_now", "send_at"), decision
            assert 0 < decision["propensity"] <= 1
            message = _bandit_reason(decision)
            assert message.startswith("contextual_thompson chose")
            expected = (
                f"vertical={lead['vertical']}|band={decision['segment']}"
                if lead["vertical"]
                else f"vertical=unknown|band={decision['segment']}"
            )
            assert f" for segment {expected} with probability " in message, message
            # The report's allocation still reads the kind of choice at the end.
            assert choice_reason(decision["reasons"]) in ("burn_in", "policy", "min_share")
            assert message.endswith(f"({choice_reason(decision['reasons'])})")
            stored = client.get(f"/v1/decisions/{decision['decision_id']}")
            assert stored.status_code == 200, stored.text
            assert stored.json()["propensity"] == decision["propensity"]
            confirmed = client.post(
                f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": iso(NOW)}
            )
            assert confirmed.status_code == 200 and confirmed.json()["allowed"] is True
        # Retail leads reply to A only, B2B leads to B only.
        events = [
            {
                "idempotency_key": f"ctx-reply-{lead['id']}",
                "lead_id": lead["id"],
                "type": "reply",
                "channel": "sms",
                "occurred_at": iso(NOW + dt.timedelta(hours=1)),
                "text": "yes",
            }
            for lead in leads
            if (lead["vertical"], first[lead["id"]]["variant_id"])
            in (("retail", variant["A"]), ("b2b", variant["B"]))
        ]
        assert events
        posted = client.post("/v1/events", json={"events": events})
        assert posted.status_code == 200, posted.text
        later = NOW + dt.timedelta(days=8)  # past the house policy's weekly cap
        again = {
            lead["id"]: decide(client, lead["id"], later, experiment_id=experiment["id"])
            for lead in leads
        }
        batch = client.post(
            "/v1/next-best-action/batch",
            json={
                "lead_ids": [lead["id"] for lead in leads],
                "capacity": 30,
                "experiment_id": experiment["id"],
                "as_of": iso(later),
            },
        )
        assert batch.status_code == 200, batch.text
        results = client.get(f"/v1/experiments/{experiment['id']}/results")
        assert results.status_code == 200, results.text
    assert results.json()["variants"][0]["sends"] + results.json()["variants"][1]["sends"] == 30
    for lead in leads:
        decision = again[lead["id"]]
        assert 0 < decision["propensity"] <= 1
        assert "for segment" in _bandit_reason(decision)
    for selected in batch.json()["selected"]:
        assert 0 < selected["propensity"] <= 1
        assert "contextual_thompson chose" in _bandit_reason(selected)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"params": {"segment_by": "zip"}}, "segment_by"),
        ({"params": {"prior_strength": 0}}, "prior_strength"),
        ({"metric": "revenue"}, "0/1 reward"),
    ],
)
def test_bad_contextual_experiments_are_refused(
    live_server: LiveServer, extra: dict[str, Any], message: str
) -> None:
    with live_server.client() as client:
        refused = _experiment(client, f"contextual-bad-{message}", **extra)
    assert refused.status_code == 422, refused.text
    assert message in refused.text

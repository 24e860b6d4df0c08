"""An experiment's randomised holdout over real HTTP: who is held out, what is logged, what the
gate keeps, and the incremental effect read out on the results and the experiment page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from optimizer.bandits.holdout import in_holdout
from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, codes, decide, iso, new_lead

# Tuesday 17 Nov 2026, 14:00 in New York (EST, UTC-5).
NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


def _experiment(client: httpx.Client, name: str, **extra: Any) -> httpx.Response:
    return client.post(
        "/v1/experiments",
        json={
            "name": name,
            "metric": "reply",
            "policy": "thompson",
            "variants": [
                {"name": "A", "template": TEMPLATE},
                {"name": "B", "template": TEMPLATE.replace("one tap", "a tap")},
            ],
            "seed": 3,
            **extra,
        },
    )


def test_holdout_holds_a_fixed_random_share_and_reads_out_the_lift(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        created = _experiment(client, "holdout-lift", holdout=0.4)
        assert created.status_code == 201, created.text
        experiment = created.json()
        assert experiment["holdout"] == 0.4
        leads = [
            new_lead(client, phone=f"(212) 555-01{i:02d}", created_at=NOW - dt.timedelta(days=1))
            for i in range(60)
        ]
        decisions = {
            lead["id"]: decide(client, lead["id"], NOW, experiment_id=experiment["id"])
            for lead in leads
        }
        held = {i for i, d in decisions.items() if "experiment.holdout" in codes(d)}
        texted = {i for i, d in decisions.items() if d["action"] in ("send_now", "send_at")}
        # Every lead is in exactly one group, and the group is the one the hash assigns.
        assert held | texted == set(decisions) and not held & texted
        expected = {
            i
            for i in decisions
            if in_holdout(experiment_id=experiment["id"], seed=3, lead_id=i, share=0.4)
        }
        assert held == expected
        assert 10 <= len(held) <= 40  # 60 leads at 40%: 24 expected
        for lead_id in held:
            d = decisions[lead_id]
            assert d["action"] == "hold"
            assert d["text"] is None and d["variant_id"] is None and d["send_at"] is None
            assert d["propensity"] == 0.4  # the probability of being held out
            assert d["compliance"]["allowed"] is True  # the gate would have allowed the text
            # Nothing to wait for: a sequence engine must not ask again at once (it would
            # loop on a lead who stays held out).
            assert d["compliance"]["next_allowed_at"] is None
            refused = client.post(
                f"/v1/decisions/{d['decision_id']}/confirm", json={"as_of": iso(NOW)}
            )
            assert refused.status_code == 200, refused.text
            assert refused.json()["allowed"] is False
            assert [r["code"] for r in refused.json()["reasons"]] == ["decision.not_sendable"]
        # The same lead asked again is in the same group.
        again = decide(
            client, min(held), NOW + dt.timedelta(minutes=5), experiment_id=experiment["id"]
        )
        assert "experiment.holdout" in codes(again)
        for lead_id in texted:
            confirmed = client.post(
                f"/v1/decisions/{decisions[lead_id]['decision_id']}/confirm",
                json={"as_of": iso(NOW)},
            )
            assert confirmed.json()["allowed"] is True
        # Replies: half of the texted leads, one held-out lead (a reply with no text).
        repliers = sorted(texted)[: len(texted) // 2] + [min(held)]
        events = [
            {
                "idempotency_key": f"holdout-reply-{lead_id}",
                "lead_id": lead_id,
                "type": "reply",
                "channel": "sms",
                "occurred_at": iso(NOW + dt.timedelta(hours=2)),
                "text": "sounds good",
            }
            for lead_id in repliers
        ]
        # A STOP from a held-out lead is not a reply the texts would have to beat.
        stopper = max(held)
        events.append(
            {
                "idempotency_key": "holdout-stop",
                "lead_id": stopper,
                "type": "inbound",
                "channel": "sms",
                "occurred_at": iso(NOW + dt.timedelta(hours=1)),
                "text": "STOP",
            }
        )
        # One reply outside the 72 h window counts for nobody.
        late = sorted(texted)[-1]
        events.append(
            {
                "idempotency_key": "holdout-reply-late",
                "lead_id": late,
                "type": "reply",
                "channel": "sms",
                "occurred_at": iso(NOW + dt.timedelta(hours=80)),
                "text": "sorry, late",
            }
        )
        posted = client.post("/v1/events", json={"events": events})
        assert posted.status_code == 200, posted.text
        results = client.get(f"/v1/experiments/{experiment['id']}/results").json()
        page = client.get(f"/ui/experiments/{experiment['id']}")
    lift = results["holdout"]
    assert lift["texted_leads"] == len(texted) and lift["held_out_leads"] == len(held)
    assert lift["texted_outcomes"] == len(texted) // 2
    assert lift["held_out_outcomes"] == 1
    texted_rate = (len(texted) // 2) / len(texted)
    held_rate = 1 / len(held)
    assert abs(lift["difference"] - (texted_rate - held_rate)) < 1e-9
    assert lift["difference_low"] < lift["difference"] < lift["difference_high"]
    assert "leads texted" in lift["message"]
    assert page.status_code == 200
    assert "Incremental effect" in page.text and "experiment.holdout" in page.text


def test_holdout_never_overrides_a_gate_denial(live_server: LiveServer) -> None:
    with live_server.client() as client:
        experiment = _experiment(client, "holdout-denial", holdout=0.5).json()
        leads = [
            new_lead(
                client,
                phone=f"(212) 555-02{i:02d}",
                created_at=NOW - dt.timedelta(days=1),
                consent=False,
            )
            for i in range(12)
        ]
        decisions = [
            decide(client, lead["id"], NOW, experiment_id=experiment["id"]) for lead in leads
        ]
        results = client.get(f"/v1/experiments/{experiment['id']}/results").json()
    assert all(d["action"] == "suppress" for d in decisions)
    assert not any("experiment.holdout" in codes(d) for d in decisions)
    assert results["holdout"]["held_out_leads"] == 0
    assert results["holdout"]["texted_leads"] == 0


def test_holdout_values_outside_the_range_are_refused(live_server: LiveServer) -> None:
    with live_server.client() as client:
        for bad in (1, 0.6, -0.1, "5%"):
            refused = _experiment(client, f"holdout-bad-{bad}", holdout=bad)
            assert refused.status_code == 422, (bad, refused.text)
            assert "holdout" in refused.text
        twice = _experiment(client, "holdout-twice", holdout=0.1, params={"holdout": 0.2})
        assert twice.status_code == 422 and "holdout" in twice.text
        in_params = _experiment(client, "holdout-in-params", params={"holdout": 2})
        assert in_params.status_code == 422 and "holdout" in in_params.text
        default = _experiment(client, "holdout-default", holdout=True)
        assert default.status_code == 201 and default.json()["holdout"] == 0.05
        none = _experiment(client, "holdout-none")
        assert none.status_code == 201 and none.json()["holdout"] == 0.0


def test_batch_gives_held_out_leads_no_capacity(live_server: LiveServer) -> None:
    with live_server.client() as client:
        experiment = _experiment(client, "holdout-batch", holdout=0.5).json()
        leads = [
            new_lead(client, phone=f"(212) 555-03{i:02d}", created_at=NOW - dt.timedelta(days=1))
            for i in range(30)
        ]
        ids = [lead["id"] for lead in leads]
        held = {
            i
            for i in ids
            if in_holdout(experiment_id=experiment["id"], seed=3, lead_id=i, share=0.5)
        }
        assert 5 <= len(held) <= 25
        batch = client.post(
            "/v1/next-best-action/batch",
            json={
                "lead_ids": ids,
                "capacity": 8,
                "experiment_id": experiment["id"],
                "as_of": iso(NOW),
            },
        )
        assert batch.status_code == 200, batch.text
        body = batch.json()
    selected = [d["lead_id"] for d in body["selected"]]
    assert len(selected) == 8  # the capacity is filled with leads that can be texted
    assert not set(selected) & held
    assert body["not_selected"].get("experiment.holdout", 0) >= 1
    assert (
        body["not_selected"]["experiment.holdout"] + body["not_selected"]["below_capacity"] + 8
        == 30
    )

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from optimizer.errors import InvalidInput
from optimizer.simulation import (
    CadencePolicy,
    Outcome,
    SendRequest,
    SimConfig,
    SimLead,
    World,
    run_world,
    simulate_cadence,
)
from optimizer.simulation.checker import OK
from tests.simulation.conftest import START


def test_speed_to_lead_fatigue_and_variants(small_world: World) -> None:
    idx = small_world.arrivals()[:400]
    created = small_world.population.created_at[idx]
    fast = small_world.true_probabilities(idx, created + 60).reply
    slow = small_world.true_probabilities(idx, created + 1800).reply
    assert fast.mean() > 3 * slow.mean()
    later = created + 3 * 86400
    fresh = small_world.true_probabilities(idx, later)
    tired = small_world.true_probabilities(idx, later, prior_texts=np.full(len(idx), 3))
    assert tired.reply.mean() < 0.5 * fresh.reply.mean()
    assert tired.opt_out.mean() > 2 * fresh.opt_out.mean()
    personal = small_world.true_probabilities(idx, later, variant="personal").reply
    unknown = small_world.true_probabilities(idx, later, variant="who-knows").reply
    assert personal.mean() > fresh.reply.mean()
    assert np.allclose(unknown, fresh.reply)


class ScriptedEngine:
    """Texts every lead at once, again at 03:00 UTC the next night, and keeps texting after STOP."""

    def __init__(self) -> None:
        self.leads: dict[str, SimLead] = {}
        self.queue: list[SendRequest] = []
        self.outcomes: list[Outcome] = []

    def register_lead(self, lead: SimLead, now: dt.datetime) -> None:
        self.leads[lead.external_id] = lead
        self.queue.append(
            SendRequest(lead.external_id, now + dt.timedelta(seconds=30), "personal", "hi")
        )

    def due_sends(self, now: dt.datetime, until: dt.datetime) -> list[SendRequest]:
        due = [r for r in self.queue if now <= r.at < until]
        self.queue = [r for r in self.queue if r.at >= until]
        return due

    def observe(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if outcome.type == "opt_out":
            later = outcome.at + dt.timedelta(hours=2)
            self.queue.append(SendRequest(outcome.lead_key, later, "plain", "still there?"))


def test_run_world_counts_outcomes_and_violations() -> None:
    config = SimConfig(seed=5, history_leads=0, opt_out_rate=0.2)
    world = World.create(config, start=START, days=2, arrivals=300)
    engine = ScriptedEngine()
    report = run_world(world, engine, start=START, days=2, tick=dt.timedelta(minutes=10))
    again = run_world(world, ScriptedEngine(), start=START, days=2, tick=dt.timedelta(minutes=10))
    assert report == again  # same world, same engine, same result
    assert report.leads_registered == 300
    assert report.texts_sent >= 300
    assert report.replies > 0 and report.opt_outs > 0
    assert {o.type for o in engine.outcomes} >= {"reply", "opt_out"}
    assert all(o.at < START + dt.timedelta(days=2) for o in engine.outcomes)
    # Texts after a seen opt-out, at night, or to leads without consent are all counted.
    assert report.violations["after_opt_out"] > 0
    assert report.violations["quiet_hours"] > 0
    without = sum(1 for lead in engine.leads.values() if not lead.consent_given)
    assert without > 0
    assert 0.7 * without - 1 <= report.violations["no_consent"] <= without
    assert report.violation_count == sum(report.violations.values())
    assert (
        report.per_variant["personal"].sent >= 295
    )  # a lead arriving in the last seconds may miss it


def test_run_world_refuses_a_send_outside_the_tick() -> None:
    world = World.create(SimConfig(seed=5, history_leads=0), start=START, days=1, arrivals=5)

    class Eager(ScriptedEngine):
        def due_sends(self, now: dt.datetime, until: dt.datetime) -> list[SendRequest]:
            return [SendRequest(k, until + dt.timedelta(hours=1), "plain", "x") for k in self.leads]

    with pytest.raises(InvalidInput, match="not inside the tick"):
        run_world(world, Eager(), start=START, days=1)


def test_legal_engine_has_no_violations() -> None:
    world = World.create(SimConfig(seed=8, history_leads=0), start=START, days=2, arrivals=200)
    pop = world.population

    class Legal(ScriptedEngine):
        def register_lead(self, lead: SimLead, now: dt.datetime) -> None:
            if not lead.consent_given:
                return
            i = world.lead_index(lead.external_id)
            t = world.checker.next_legal(
                pop.area_idx[[i]], pop.cand_zones[[i]], np.array([int(now.timestamp()) + 60])
            )
            self.queue.append(
                SendRequest(
                    lead.external_id, dt.datetime.fromtimestamp(int(t[0]), dt.UTC), "plain", "hi"
                )
            )

        def observe(self, outcome: Outcome) -> None:
            self.outcomes.append(outcome)

    report = run_world(world, Legal(), start=START, days=2)
    assert report.violation_count == 0
    assert report.texts_sent > 150


def test_default_run_rates_are_in_the_cited_ranges() -> None:
    world = World.create(SimConfig(seed=2, history_leads=0), start=START, days=30, arrivals=4000)
    r = simulate_cadence(world)
    assert 0.03 <= r.reply_rate <= 0.4
    assert 0.25 <= r.reply_rate_first_touch_within_5min <= 0.45
    assert all(0.02 <= x <= 0.4 for x in r.reply_rate_by_touch)
    assert 0.02 <= r.conversion_rate_engaged <= 0.15
    assert 0.01 <= r.opt_out_rate <= 0.03
    assert r.speed_to_lead_ratio_5_vs_30min > 2.5
    assert sum(r.violations.values()) == 0
    reckless = simulate_cadence(world, CadencePolicy(legal_only=False, first_touch_minutes=0))
    assert reckless.violations["quiet_hours"] > 0


def test_next_legal_used_by_the_cadence_is_legal(small_world: World) -> None:
    pop = small_world.population
    idx = small_world.arrivals()
    t = small_world.checker.next_legal(pop.area_idx[idx], pop.cand_zones[idx], pop.created_at[idx])
    assert np.all(small_world.checker.time_status(pop.area_idx[idx], pop.cand_zones[idx], t) == OK)

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest

from optimizer.compliance.recipient import recipient_of
from optimizer.errors import InvalidInput
from optimizer.phones import parse_phone
from optimizer.simulation import SimConfig, SimLead, World
from optimizer.simulation.geography import area_codes, hour_of_week
from tests.simulation.conftest import START


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"consent_share": 1.5}, "consent_share 1.5 is not a share"),
        ({"history_leads": -1}, "history_leads -1 is negative"),
        ({"arrivals_per_day": -2.0}, "arrivals_per_day -2.0 is negative"),
        ({"arrival_hour_weights": (1.0,) * 23}, "24 non-negative weights"),
        ({"speed_to_lead_tau_minutes": 0.0}, "speed_to_lead_tau_minutes 0.0 is not positive"),
        ({"speed_to_lead_peak": 0.5}, "speed_to_lead_peak 0.5 is below 1"),
        ({"variants": ()}, "at least one entry"),
    ],
)
def test_config_rejects_bad_values(changes: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        SimConfig().with_(**changes)


def test_unknown_variant_has_neutral_effect() -> None:
    effect = SimConfig().effect("never-heard-of-it")
    assert (effect.reply, effect.click, effect.conversion, effect.opt_out) == (1.0, 1.0, 1.0, 1.0)
    assert SimConfig().effect("personal").reply > 1.0


def test_same_seed_same_world_other_seed_other_world() -> None:
    a = World.create(SimConfig(seed=3, history_leads=50), start=START, days=2, arrivals=100)
    b = World.create(SimConfig(seed=3, history_leads=50), start=START, days=2, arrivals=100)
    c = World.create(SimConfig(seed=4, history_leads=50), start=START, days=2, arrivals=100)
    assert list(a.population.phones) == list(b.population.phones)
    assert np.array_equal(a.population.created_at, b.population.created_at)
    assert np.array_equal(a.population.curves, b.population.curves)
    assert list(a.population.phones) != list(c.population.phones)


def test_phones_are_valid_and_agree_with_parse_phone(small_world: World) -> None:
    pop, table = small_world.population, area_codes()
    for i in range(0, pop.size, 7):
        info = parse_phone(str(pop.phones[i]))
        assert info.e164 == pop.phones[i]
        assert info.state in (table.states[pop.area_idx[i]], None)
        mine = {table.zone_names[z] for z in pop.cand_zones[i] if z >= 0}
        # The gate checks every zone the simulator may put the lead in (and, for the split
        # area codes the simulator does not split, more).
        assert set(info.time_zones) <= mine <= set(recipient_of(info.e164).zones), pop.phones[i]
        assert table.zone_names[pop.zone_idx[i]] in mine


def test_states_and_split_codes_occur() -> None:
    table = area_codes()
    rng = np.random.default_rng(0)
    drawn = rng.choice(len(table.codes), size=40000, p=table.weights)
    states = collections.Counter(table.states[i] for i in drawn)
    codes = {table.codes[i] for i in drawn}
    for state in ("FL", "TX", "OK", "MD", "AL", "CA", "NY"):
        assert states[state] > 0
    assert {"850", "448", "208", "986"} <= codes
    # Roughly by population: California and Texas lead, Wyoming trails.
    assert states["CA"] > states["TX"] > states["OK"] > states["WY"]


def test_sim_lead_carries_no_latent_fields(small_world: World) -> None:
    names = {f.name for f in dataclasses.fields(SimLead)}
    assert not names & {"curve", "persona_weights", "engagement", "propensity_logit", "zone"}
    lead = small_world.lead(int(small_world.arrivals()[0]))
    assert lead.created_at.tzinfo is not None
    if lead.consent_given:
        assert lead.consent_at == lead.created_at and lead.consent_method == "web"
    latent = small_world.latent(lead.external_id)
    assert latent.curve.shape == (168,)
    assert 0.0 < latent.conversion_propensity < 1.0


def test_unknown_lead_key_names_it(small_world: World) -> None:
    with pytest.raises(InvalidInput, match="lead_key 'nobody' is not a lead"):
        small_world.lead("nobody")


def test_arrivals_follow_the_intra_day_pattern(small_world: World) -> None:
    pop = small_world.population
    idx = small_world.arrivals()
    local_hour = hour_of_week(small_world.clock.local(pop.zone_idx[idx], pop.created_at[idx])) % 24
    counts = np.bincount(local_hour, minlength=24)
    assert counts[12] + counts[19] > 5 * (counts[3] + counts[4])
    assert np.all(pop.created_at[idx] >= int(START.timestamp()))


def test_history_is_before_creation_and_timed_by_the_curve(small_world: World) -> None:
    pop = small_world.population
    assert np.all(pop.history_at < pop.created_at[pop.history_lead])
    local = small_world.clock.local(pop.zone_idx[pop.history_lead], pop.history_at)
    how = hour_of_week(local)
    curve_at_event = pop.curves[pop.history_lead, how]
    # Events happen where the lead's own curve is high (mean curve over waking hours is 1).
    assert curve_at_event.mean() > 1.3


def test_propensity_depends_on_observable_history(small_world: World) -> None:
    pop = small_world.population
    clicks = np.bincount(pop.history_lead[pop.history_type == 1], minlength=pop.size)
    assert np.corrcoef(np.log1p(clicks), pop.propensity_logit)[0, 1] > 0.2

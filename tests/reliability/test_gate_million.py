"""The gate under many simulated sends, judged by the simulator's independent checker; and proof
that the checker does catch a wrong send (so 0 violations means something)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from experiments.gate_million import million_sends, simulate_leads
from optimizer.compliance import ConsentEntry, GateContext, evaluate, policy_from_settings
from optimizer.phones import parse_phone
from optimizer.settings import Settings
from optimizer.simulation.geography import area_codes, candidate_zones
from optimizer.simulation.send_check import NEVER, LeadTruth, SendLog, check_sends


def test_twenty_thousand_sends_through_the_gate_break_no_rule() -> None:
    figures = million_sends(20_000, seed=3)
    assert figures["sends"] == 20_000
    assert figures["violation_count"] == 0, figures["violations"]
    # The mix is hostile enough that the gate has to deny for many reasons...
    assert 0 < figures["allowed"] < figures["sends"]
    assert figures["allowed"] + figures["denied"] == figures["sends"]
    reasons = figures["denied_by_reason"]
    for code in (
        "quiet_hours.federal",
        "consent.missing",
        "consent.revoked",
        "suppressed.opt_out",
        "frequency.state_24h.FL",
        "frequency.house.7d",
        "dnc.registry.national",
        "content.no_opt_out_language",
    ):
        assert reasons.get(code, 0) > 0, code
    assert any(code.startswith("banned_day.state.") for code in reasons)
    assert figures["split_zone_leads"] > 0
    # ...and the vectorised mask agrees with the one-send evaluate wherever both were asked.
    assert figures["evaluate_checked"] >= 150
    assert figures["evaluate_disagreements"] == 0


def _one_lead(area_code: str, phone: str) -> LeadTruth:
    table = area_codes()
    area = np.array([table.codes.index(area_code)], dtype=np.int64)
    start = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    return LeadTruth(
        area_idx=area,
        cand_zones=candidate_zones(np.array([phone], dtype=object), area),
        address_state=np.array([None], dtype=object),
        grant_at=np.array([start]),
        opt_out_at=np.array([int(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC).timestamp())]),
        regrant_at=np.array([NEVER]),
    )


def _at(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp())


def test_the_checker_counts_a_wrong_send() -> None:
    """03:00 local in Miami, a Sunday in Alabama, a text after the opt-out, a fourth text within
    24 h in Florida: each is counted; a Tuesday 15:00 local text is not."""
    miami = _one_lead("305", "+13053334444")
    sends = SendLog(
        lead=np.zeros(6, dtype=np.int64),
        at=np.array(
            [
                _at(2026, 3, 3, 8),  # Tue 03:00 EST
                _at(2026, 3, 3, 20),  # Tue 15:00 EST: fine (1st of the day)
                _at(2026, 3, 3, 20, 30),  # 2nd
                _at(2026, 3, 3, 21),  # 3rd
                _at(2026, 3, 3, 21, 30),  # 4th within 24 h: over the FL cap
                _at(2026, 6, 2, 15),  # after the opt-out of 1 June
            ]
        ),
        marketing=np.ones(6, dtype=bool),
    )
    found = check_sends(miami, sends)
    assert found["quiet_hours"].tolist() == [True, False, False, False, False, False]
    # The 03:00 text counts towards the 24 h too: the 3rd and 4th afternoon texts are over.
    assert found["state_cap_24h"].tolist() == [False, False, False, True, True, False]
    assert found["after_opt_out"].tolist() == [False] * 5 + [True]
    assert found["no_consent"].tolist() == [False] * 5 + [True]

    alabama = _one_lead("205", "+12053334444")
    sunday_noon = SendLog(np.array([0]), np.array([_at(2026, 3, 8, 18)]), np.array([True]))
    assert check_sends(alabama, sunday_noon)["banned_day"].tolist() == [True]


def test_the_checker_catches_an_ungated_engine() -> None:
    """Every candidate sent without asking the gate: every kind of violation shows up."""
    leads = simulate_leads(300, 20, seed=5)
    lead = np.repeat(np.arange(300), 20)
    sends = SendLog(lead, leads.candidates.ravel(), np.ones(lead.size, dtype=bool))
    found = check_sends(leads.truth, sends)
    for kind, hits in found.items():
        assert hits.any(), kind


NV_EVENING = _at(2026, 3, 25, 3, 30)  # Tue 20:30 in Las Vegas (PDT), 21:30 in West Wendover (MDT)


def test_the_checker_reads_the_address_state_in_all_its_zones() -> None:
    vegas = _one_lead("702", "+17023334444")
    send = SendLog(np.array([0]), np.array([NV_EVENING]), np.array([True]))
    assert not check_sends(vegas, send)["quiet_hours"].any()
    in_nevada = dataclasses.replace(vegas, address_state=np.array(["NV"], dtype=object))
    assert check_sends(in_nevada, send)["quiet_hours"].tolist() == [True]


def test_the_gate_reads_a_nevada_address_in_mountain_time_too() -> None:
    settings = Settings(brand_name="Acme")
    at = dt.datetime.fromtimestamp(NV_EVENING, tz=dt.UTC)
    ctx = GateContext(
        phone=parse_phone("+17023334444"),
        send_at=at,
        message="Acme: 20% off this week. Reply STOP to opt out.",
        policy=policy_from_settings(settings, "legal"),
        address_state="NV",
        consents=(ConsentEntry("grant", at - dt.timedelta(days=1), "Acme"),),
    )
    assert not evaluate(ctx).allowed

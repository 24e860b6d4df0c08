"""The batch decides exactly as the straightforward per-lead flow does: the gate's mask lead by
lead, the send-time model on every slot of every lead, then the same ranking and choices."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import Counter
from typing import Any

import lightgbm as lgb
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.bandits.store import create_experiment, variant_chooser
from optimizer.compliance import allowed_mask, evaluate
from optimizer.compliance.recipient import recipient_of
from optimizer.compliance.store_context import build_contexts
from optimizer.decide.batch import decide_batch
from optimizer.decide.models import LoadedModels
from optimizer.decide.render import lead_tokens, render
from optimizer.decide.service import (
    DecisionService,
    Prepared,
    candidates_and_arms,
    decision_rng,
    is_permanent,
    neutral_message,
)
from optimizer.decide.slots import as_datetime64, candidate_slots
from optimizer.decide.store import load_facts_many
from optimizer.decide.types import PERMANENT_PREFIXES, BatchResult
from optimizer.demo.templates import DEMO_VARIANTS
from optimizer.ingest.events import EventInput, ingest_events
from optimizer.ingest.leads import ConsentInput, LeadInput, add_consent, upsert_lead
from optimizer.models.send_time import SendTimeModel
from optimizer.models.send_time_features import SLOT_FEATURES
from optimizer.models.serving import BASELINE_VERSION, LeadScorer
from optimizer.settings import Settings
from optimizer.store.db import transaction
from optimizer.store.models import Lead

NOW = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)  # a Tuesday, 13:00 in New York
AREA_CODES = ("212", "305", "602", "808", "312", "415", "801", "405", "713", "907")


def _booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.random((3000, len(SLOT_FEATURES))).astype(np.float32)
    x[:, 0] = rng.integers(0, 24, len(x))
    x[:, 1] = rng.integers(0, 7, len(x))
    y = ((x[:, 0] > 9) & (x[:, 0] < 18) | (x[:, 6] > 0.8)).astype(int)
    params = {"objective": "binary", "num_leaves": 8, "verbose": -1, "seed": 0}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=12)


def _store(sessions: sessionmaker[Session], settings: Settings) -> tuple[list[int], int]:
    """Leads across zones and states: most with consent and no history (many alike), some with
    texts, replies and clicks behind them, some without consent or opted out."""
    rng = np.random.default_rng(7)
    ids: list[int] = []
    with transaction(sessions) as session:
        for i in range(48):
            area = AREA_CODES[i % len(AREA_CODES)]
            attributes: dict[str, Any] = {"product_interest": "roof repair"}
            if i % 3:
                attributes["first_name"] = "Sam"
            if i % 7 == 0:
                attributes["deal_value"] = 250
            lead = upsert_lead(
                session,
                data=LeadInput(
                    external_id=f"lead-{i}",
                    phone=f"+1{area}555{100 + i:03d}{i % 10}",
                    state="TX" if i % 11 == 0 else None,
                    timezone="America/Chicago" if i % 13 == 0 else None,
                    vertical=str(rng.choice(["healthcare", "retail", "b2b"])),
                    source="web_form",
                    attributes=attributes,
                    created_at=NOW - dt.timedelta(days=int(rng.integers(1, 40))),
                ),
                now=NOW - dt.timedelta(days=40),
            ).lead
            ids.append(lead.id)
            if i % 17 != 5:
                add_consent(
                    session,
                    lead=lead,
                    data=ConsentInput(
                        granted_at=lead.created_at,
                        method="web",
                        brand=settings.brand_name,
                        disclosure="I agree.",
                    ),
                    now=lead.created_at,
                )
        events: list[EventInput] = []
        for i, lead_id in enumerate(ids[:14]):
            for k in range(int(rng.integers(1, 6))):
                kind = str(rng.choice(["sent", "reply", "click", "email_open"]))
                events.append(
                    EventInput(
                        idempotency_key=f"{lead_id}-{k}",
                        lead_id=lead_id,
                        type=kind,
                        channel="sms" if kind in ("sent", "reply") else "email",
                        occurred_at=NOW - dt.timedelta(minutes=int(rng.integers(30, 60 * 24 * 9))),
                        text="sounds good" if kind == "reply" else None,
                        marketing=True if kind == "sent" else None,
                    )
                )
            if i in (2, 9):  # opted out
                events.append(
                    EventInput(f"{lead_id}-stop", lead_id, "inbound", "sms", NOW, text="STOP")
                )
        ingest_events(session, events=events, settings=settings, now=NOW)
        experiment = create_experiment(
            session,
            name="batch",
            metric="reply",
            policy="thompson",
            variants=list(DEMO_VARIANTS),
            control=None,
            params=None,
            attribution_hours=72,
            seed=0,
            now=NOW - dt.timedelta(days=1),
        )
    return ids, experiment.id


def _reference_batch(
    service: DecisionService,
    session: Session,
    *,
    lead_ids: list[int],
    capacity: int,
    horizon_hours: int,
    experiment_id: int | None,
    template: str | None,
    now: dt.datetime,
) -> BatchResult:
    """The batch lead by lead: ``allowed_mask`` and ``evaluate`` per lead, ``score_slots`` on
    every slot of every lead."""
    experiment, candidates, _arms = candidates_and_arms(
        session, experiment_id=experiment_id, template=template
    )
    found = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))}
    leads = [found[i] for i in lead_ids]
    settings = service.settings
    contexts = build_contexts(
        session, leads=leads, message=neutral_message(settings), send_at=now, now=now,
        settings=settings,
    )  # fmt: skip
    facts = load_facts_many(session, leads=leads, now=now)
    slots = candidate_slots(now, horizon_hours)
    not_selected: Counter[str] = Counter()
    open_leads, masks = [], []
    for lead in leads:
        mask = np.asarray(allowed_mask(contexts[lead.id], as_datetime64(slots)), dtype=bool)
        if not mask.any():
            probe = evaluate(contexts[lead.id])
            code = "hold.no_allowed_slot"
            if is_permanent(probe):
                code = next(r.code for r in probe.reasons if r.code.startswith(PERMANENT_PREFIXES))
            not_selected[code] += 1
            continue
        tokens = lead_tokens(lead.attributes or {}, facts[lead.id], now, brand=settings.brand_name)
        if not any(render(c.template, tokens).ok for c in candidates):
            not_selected["render.no_variant"] += 1
            continue
        open_leads.append(lead)
        masks.append(mask)
    ids = [lead.id for lead in open_leads]
    features = service.models.features(session, lead_ids=ids, now=now)
    scores = service.models.score_frame(features, explain=False)
    recipients = [recipient_of(x.phone_e164, x.timezone, x.state) for x in open_leads]
    zones = [r.display_zone for r in recipients]
    slot_probs = service.models.send_time.score_slots(
        service.models.send_time_features(session, lead_ids=ids, now=now),
        slots,
        [r.model_zone for r in recipients],
    )
    best = np.max(np.where(np.vstack(masks), slot_probs, -1.0), axis=1)
    deal = [float((x.attributes or {}).get("deal_value", 1.0)) for x in open_leads]
    value = np.array([s.probability for s in scores]) * np.array(deal) * best
    chosen = [int(i) for i in np.argsort(-value, kind="stable")][:capacity]
    not_selected["below_capacity"] += len(open_leads) - len(chosen)
    for i, row in zip(chosen, service.models.score_frame(features.iloc[chosen]), strict=True):
        scores[i] = row
    chooser = variant_chooser(session, experiment_id=experiment.id, now=now) if experiment else None
    logged = []
    for i in chosen:
        lead = open_leads[i]
        record = service.choose(
            session,
            prepared=Prepared(lead, zones[i], facts[lead.id], evaluate(contexts[lead.id]),
                              contexts[lead.id]),
            experiment=experiment,
            candidates=candidates,
            score=scores[i],
            rng=decision_rng(service.seed, lead.id, now),
            decision_id=str(uuid.uuid4()),
            horizon_hours=horizon_hours,
            now=now,
            slot_probs=slot_probs[i],
            chooser=chooser,
        )  # fmt: skip
        logged.append(dataclasses.replace(record, expected_value=float(value[i])))
        if not record.sendable:
            not_selected[f"{record.action}.at_decision"] += 1
    return BatchResult(
        considered=len(leads),
        selected=tuple(r for r in logged if r.sendable),
        not_selected=dict(not_selected),
        logged=tuple(logged),
    )


def _snapshot(result: BatchResult) -> dict[str, Any]:
    def record(r: Any) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(r).items() if k != "decision_id"}

    return {
        "considered": result.considered,
        "selected": [record(r) for r in result.selected],
        "logged": [record(r) for r in result.logged],
        "not_selected": {k: v for k, v in result.not_selected.items() if v},
    }


def test_the_batch_decides_as_the_lead_by_lead_flow(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    ids, experiment = _store(sessions, settings)
    components = np.random.default_rng(3).random((4, 48)) + 0.01
    models = LoadedModels(
        settings=settings,
        scorer=LeadScorer(None, version=BASELINE_VERSION),
        send_time=SendTimeModel(
            _booster(),
            components=components / components.sum(axis=1, keepdims=True),
            sources=("web_form",),
        ),
    )
    service = DecisionService(settings=settings, models=models, seed=3)
    cases = [
        (NOW, 6, experiment, None),
        (NOW, 1000, experiment, None),
        (dt.datetime(2026, 10, 7, 3, 30, tzinfo=dt.UTC), 10, experiment, None),  # US night
        (dt.datetime(2026, 10, 31, 12, 17, tzinfo=dt.UTC), 1000, experiment, None),  # DST ends
        (dt.datetime(2026, 10, 11, 15, 0, tzinfo=dt.UTC), 8, None, "Hi {first_name}! "
         f"{settings.brand_name} here. Reply STOP to opt out."),  # a Sunday; one template
    ]  # fmt: skip
    seen: Counter[str] = Counter()
    for now, capacity, experiment_id, template in cases:
        arguments: dict[str, Any] = dict(
            lead_ids=ids,
            capacity=capacity,
            horizon_hours=72,
            experiment_id=experiment_id,
            template=template,
            now=now,
        )
        with sessions() as session:
            expected = _snapshot(_reference_batch(service, session, **arguments))
        with sessions() as session:
            got = _snapshot(decide_batch(service, session, **arguments))
        assert got == expected, now
        seen.update(got["not_selected"])
        seen["selected"] += len(got["selected"])
    # The cases cover every way out of the batch.
    assert {
        "selected",
        "below_capacity",
        "consent.missing",
        "consent.revoked",  # an opt-out revokes consent (and suppresses)
        "hold.no_allowed_slot",
        "render.no_variant",
    } <= set(seen), seen


def test_overlapping_batches_leave_the_cyclic_collector_as_they_found_it() -> None:
    import gc

    from optimizer.decide.batch import _cyclic_gc_paused

    assert gc.isenabled()
    first, second = _cyclic_gc_paused(), _cyclic_gc_paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)  # the first to start finishes first: still paused
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps it off
    try:
        with _cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

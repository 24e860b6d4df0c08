"""Next best action for a pool: the ``capacity`` best sendable leads, ranked by expected value,
or, with an uplift champion trained on the store's features, by expected incremental value
(:mod:`optimizer.decide.incremental`; leads whose incremental value is negative are not texted).

Vectorised: one feature load, one lead-score call and one send-time pool for the whole pool;
the gate's allowed masks in one pass (each distinct rule set computed once); the send-time model
only on allowed slots; full decisions (logged) only for the leads selected.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import ContextDecorator
from dataclasses import replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.bandits.holdout import HOLDOUT_REASON, in_holdout, share_of
from optimizer.bandits.store import variant_chooser
from optimizer.compliance import evaluate
from optimizer.compliance.gate import allowed_masks
from optimizer.compliance.recipient import recipient_of
from optimizer.compliance.store_context import build_contexts
from optimizer.decide.incremental import (
    EXPECTED_INCREMENTAL_VALUE,
    EXPECTED_VALUE,
    NEGATIVE_UPLIFT,
    incremental_value,
    opt_out_probability,
)
from optimizer.decide.render import lead_tokens, render
from optimizer.decide.service import (
    DecisionService,
    Prepared,
    candidates_and_arms,
    decision_rng,
    neutral_message,
)
from optimizer.decide.slots import as_datetime64, candidate_slots
from optimizer.decide.store import load_facts_many
from optimizer.decide.types import PERMANENT_PREFIXES, BatchResult, DecisionRecord
from optimizer.errors import InvalidInput
from optimizer.logs import get_logger
from optimizer.store.models import Lead

_log = get_logger(__name__)


class _cyclic_gc_paused(ContextDecorator):  # noqa: N801 - used like a contextmanager function
    """A batch allocates some 10^5 small objects (ORM rows, gate contexts, reasons) that live
    until it returns; the cyclic collector's passes over them and over the process's long-lived
    heap cost about a fifth of the batch and find next to nothing to free. Reference counting
    frees as usual. The first batch to start pauses the collector (if it was on), the last to
    finish turns it back on, however batches on several threads overlap."""

    _lock = threading.Lock()
    _running = 0  # batches running now with the collector paused
    _was_enabled = True  # the collector's state when the first of them started

    def __enter__(self) -> None:
        cls = type(self)
        with cls._lock:
            cls._running += 1
            if cls._running == 1:
                cls._was_enabled = gc.isenabled()
                gc.disable()

    def __exit__(self, *exc: object) -> None:
        cls = type(self)
        with cls._lock:
            cls._running -= 1
            if cls._running == 0 and cls._was_enabled:
                gc.enable()


@_cyclic_gc_paused()
def decide_batch(
    service: DecisionService,
    session: Session,
    *,
    lead_ids: Sequence[int] | None,
    capacity: int,
    horizon_hours: int,
    experiment_id: int | None,
    template: str | None,
    now: dt.datetime,
) -> BatchResult:
    """The ``capacity`` best sendable leads of ``lead_ids`` (every lead when ``None``), each with
    its full decision; the rest counted by reason.

    Ranked by expected value (lead-score probability × deal value × best send-time response),
    or, when the service holds an uplift champion, by expected incremental value (uplift ×
    deal value − cost of a text − opt-out probability × value lost per opt-out; see
    :mod:`optimizer.decide.incremental`), leads below 0 counted as ``hold.negative_uplift``.
    The result says which (``ranking``, ``uplift_version``)."""
    experiment, candidates, arms = candidates_and_arms(
        session, experiment_id=experiment_id, template=template
    )
    if lead_ids is None:
        leads = list(session.scalars(select(Lead).order_by(Lead.id)))
    else:
        wanted = list(dict.fromkeys(lead_ids))
        found = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(wanted)))}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise InvalidInput(
                f"lead_ids {missing[:5]} do not exist (known lead ids expected)", field="lead_ids"
            )
        leads = [found[i] for i in wanted]
    not_selected: Counter[str] = Counter()
    versions = service.models.versions()
    uplift_model = getattr(service.models, "uplift", None)
    ranking = EXPECTED_INCREMENTAL_VALUE if uplift_model is not None else EXPECTED_VALUE
    uplift_version = None if uplift_model is None else str(uplift_model.version)
    if not leads:
        return BatchResult(
            considered=0,
            selected=(),
            not_selected={},
            model_versions=versions,
            ranking=ranking,
            uplift_version=uplift_version,
        )
    settings = service.settings
    neutral = neutral_message(settings)
    contexts = build_contexts(
        session, leads=leads, message=neutral, send_at=now, now=now, settings=settings
    )
    facts = load_facts_many(session, leads=leads, now=now)
    slots = candidate_slots(now, horizon_hours)
    # 1. The gate's mask over the horizon for every lead (with a neutral message: the lead's
    #    own rules and the time rules), in one pass over the pool. A lead with no allowed slot
    #    is counted by why: a permanent block (the first, as ``evaluate`` lists them), or
    #    nothing allowed in the horizon.
    gate = allowed_masks([contexts[lead.id] for lead in leads], as_datetime64(slots))
    open_leads: list[Lead] = []
    open_rows: list[int] = []
    for index, lead in enumerate(leads):
        if not gate.allowed[index].any():
            permanent = [
                r.code for r in gate.static_reasons[index] if r.code.startswith(PERMANENT_PREFIXES)
            ]
            not_selected[permanent[0] if permanent else "hold.no_allowed_slot"] += 1
            continue
        tokens = lead_tokens(lead.attributes or {}, facts[lead.id], now, brand=settings.brand_name)
        if not any(render(c.template, tokens).ok for c in candidates):
            not_selected["render.no_variant"] += 1
            continue
        open_leads.append(lead)
        open_rows.append(index)
    if not open_leads:
        return BatchResult(
            considered=len(leads),
            selected=(),
            not_selected=dict(not_selected),
            model_versions=versions,
            ranking=ranking,
            uplift_version=uplift_version,
        )
    ids = [lead.id for lead in open_leads]
    # 2. One lead-score call and one send-time pool for the leads that can be texted.
    # Explanations (pred_contrib) cost several times a plain prediction: the pool is ranked on
    # probabilities alone, and only the leads selected are explained.
    features = service.models.features(session, lead_ids=ids, now=now)
    scores = service.models.score_frame(features, explain=False)
    recipients = [recipient_of(x.phone_e164, x.timezone, x.state) for x in open_leads]
    zones = [r.display_zone for r in recipients]
    pool = service.models.send_time.slot_pool(
        service.models.send_time_features(session, lead_ids=ids, now=now),
        slots,
        [r.model_zone for r in recipients],
    )
    # 3. Expected value at each lead's best allowed slot: only the allowed slots are scored.
    allowed = gate.allowed[open_rows]
    best_response = np.max(np.where(allowed, pool.scores(allowed), -1.0), axis=1)
    probability = np.array([score.probability for score in scores])
    deal_values = np.array([_deal_value(lead) for lead in open_leads])
    value = probability * deal_values * best_response
    # A lead the baseline scores 0 is still sendable: it ranks last, it is not dropped.
    ranked = [int(i) for i in np.argsort(-value, kind="stable")]
    uplift = None
    if uplift_model is not None:
        try:
            uplift = np.asarray(uplift_model.predict(features), dtype=np.float64)
            if uplift.shape != (len(open_leads),) or not np.isfinite(uplift).all():
                raise ValueError(f"{uplift.shape} uplift estimates, not {len(open_leads)} finite")
        except Exception as exc:  # never a 500: this batch ranks by expected value, and says so
            _log.warning(
                "uplift_scoring_failed", model=uplift_version, error=f"{type(exc).__name__}: {exc}"
            )
            uplift, ranking, uplift_version = None, EXPECTED_VALUE, None
    if uplift is not None:
        value = incremental_value(
            uplift,
            deal_values,
            text_cost=settings.text_cost,
            opt_out_probability=opt_out_probability(
                ((stats.opt_outs, stats.sends) for _variant, stats in arms),
                prior_rate=settings.opt_out_prior_rate,
                prior_sends=settings.opt_out_prior_sends,
            ),
            opt_out_cost=settings.opt_out_cost,
        )
        # Sleeping dogs (a text lowers their outcome) and texts worth less than they cost are
        # not sent: the lead is better off, and so is the list, without them.
        ranked = [int(i) for i in np.argsort(-value, kind="stable") if value[i] >= 0]
        not_selected[NEGATIVE_UPLIFT] += int((value < 0).sum())
    # The experiment's held-out leads take no capacity: those ranked above the cut are logged
    # (as holds of the holdout, where the gate allows their text) and the next leads move up.
    share = share_of(experiment.policy_params) if experiment is not None else 0.0
    chosen: list[int] = []
    held: set[int] = set()
    sendable_count = 0
    for i in ranked:
        if sendable_count == capacity:
            break
        chosen.append(i)
        if experiment is not None and in_holdout(
            experiment_id=experiment.id,
            seed=experiment.seed,
            lead_id=open_leads[i].id,
            share=share,
        ):
            held.add(i)
        else:
            sendable_count += 1
    not_selected["below_capacity"] += max(0, len(ranked) - len(chosen))
    if chosen:
        explained = service.models.score_frame(features.iloc[list(chosen)], explain=True)
        for i, row in zip(chosen, explained, strict=True):
            scores[i] = row
    # The leads selected get every slot scored: their decision sees the whole horizon.
    every_slot = np.zeros(allowed.shape, dtype=bool)
    every_slot[chosen] = True
    slot_probs = pool.scores(every_slot)
    # 4. Full decisions (gate on the concrete text and time, logged) for the selected leads.
    selected: list[DecisionRecord] = []
    logged: list[DecisionRecord] = []
    # The bandit's state does not change within a batch (sends count at confirm): load it once.
    chooser = (
        variant_chooser(
            session, experiment_id=experiment.id, now=now, arms=arms, experiment=experiment
        )
        if experiment
        else None
    )
    for i in chosen:
        lead = open_leads[i]
        decision_id = str(uuid.uuid4())
        prepared = Prepared(
            lead=lead,
            zone=zones[i],
            facts=facts[lead.id],
            probe=evaluate(contexts[lead.id]),
            context=contexts[lead.id],
        )
        record = service.choose(
            session,
            prepared=prepared,
            experiment=experiment,
            candidates=candidates,
            score=scores[i],
            rng=decision_rng(service.seed, lead.id, now),
            decision_id=decision_id,
            horizon_hours=horizon_hours,
            now=now,
            slot_probs=slot_probs[i],
            chooser=chooser,
        )
        record = replace(record, expected_value=float(value[i]))
        logged.append(record)
        if record.sendable:
            selected.append(record)
        elif any(r.code == HOLDOUT_REASON for r in record.reasons):
            not_selected[HOLDOUT_REASON] += 1
        else:
            not_selected[f"{record.action}.at_decision"] += 1
    return BatchResult(
        considered=len(leads),
        selected=tuple(selected),
        not_selected=dict(not_selected),
        model_versions=versions,
        logged=tuple(logged),
        ranking=ranking,
        uplift_version=uplift_version,
    )


def _deal_value(lead: Lead) -> float:
    """Expected value of a conversion: the lead's own ``deal_value`` attribute, else 1."""
    raw = (lead.attributes or {}).get("deal_value")
    try:
        value = float(raw) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
    return value if value > 0 else 1.0

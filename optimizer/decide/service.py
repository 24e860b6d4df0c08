"""Next best action for one lead: permanent blocks, score, variant, slot, render, gate, log.

The flow of DESIGN.md: the gate runs first for the permanent blocks (consent, opt-out, DNC,
invalid number) and last on the concrete text and send time; nothing the models or the bandit
propose can get past it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from optimizer.bandits.contextual import LeadContext
from optimizer.bandits.experiment_store import (
    VariantChooser,
    read_arms,
    read_experiment,
    variant_chooser,
)
from optimizer.bandits.holdout import HOLDOUT_REASON, in_holdout, share_of
from optimizer.compliance import (
    GateContext,
    Verdict,
    allowed_mask,
    evaluate,
    segment_info,
)
from optimizer.compliance.gate import GateMemo
from optimizer.compliance.recipient import recipient_of
from optimizer.compliance.store_context import build_context
from optimizer.decide.models import LoadedModels, ScoreRow
from optimizer.decide.render import LeadFacts, lead_tokens, render
from optimizer.decide.slots import candidate_slots64, local_iso, pack_mask, slot_at
from optimizer.decide.store import load_facts, load_lead_events, read_lead
from optimizer.decide.types import (
    PERMANENT_PREFIXES,
    DecisionReason,
    DecisionRecord,
    SlotLog,
    TopFeature,
)
from optimizer.errors import InvalidInput, NotFound
from optimizer.settings import Settings
from optimizer.store.events import LeadEvents
from optimizer.store.models import ArmStats, Experiment, Lead, Variant


@dataclass(frozen=True)
class Candidate:
    variant_id: int | None
    variant_name: str | None
    template: str


@dataclass(frozen=True)
class Prepared:
    """Everything about one lead that does not depend on the chosen variant or slot."""

    lead: Lead
    zone: str | None
    facts: LeadFacts
    probe: Verdict
    context: GateContext
    # The lead's events up to the decision time, read once (None: each reader queries its own).
    events: LeadEvents | None = None
    # The gate's memo for this decision's verdicts (see optimizer.compliance.gate.evaluate).
    gate_memo: GateMemo = field(default_factory=dict)


def decision_rng(seed: int, lead_id: int, now: dt.datetime) -> np.random.Generator:
    """Each decision's draws follow from the service seed, the lead and the decision time, so
    the same request on the same state gives the same answer (the decision id is random and
    plays no part)."""
    stamp = int(now.astimezone(dt.UTC).timestamp() * 1_000_000)
    return np.random.default_rng([seed, lead_id, stamp])


def lead_context_of(lead: Lead, score: ScoreRow) -> LeadContext:
    """What the variant choice knows of the lead: its source and vertical, its score band."""
    return LeadContext(source=lead.source, vertical=lead.vertical, band=score.segment)


def reasons_of(verdict: Verdict) -> tuple[DecisionReason, ...]:
    return tuple(DecisionReason(r.code, r.message, r.source) for r in verdict.reasons)


def is_permanent(verdict: Verdict) -> bool:
    return any(r.code.startswith(PERMANENT_PREFIXES) for r in verdict.reasons)


def candidates_and_arms(
    session: Session, *, experiment_id: int | None, template: str | None
) -> tuple[Experiment | None, list[Candidate], list[tuple[Variant, ArmStats]]]:
    """The experiment, its variants that are not paused (or the one template) and the arms'
    statistics as read now (one query for variants and statistics)."""
    if experiment_id is None:
        if template is None:
            raise InvalidInput("one of experiment_id or template is required", field="template")
        return None, [Candidate(None, None, template)], []
    experiment = read_experiment(session, experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id} does not exist", field="experiment_id")
    if experiment.status != "running":
        raise InvalidInput(
            f"experiment {experiment_id} is {experiment.status} (a running experiment expected)",
            field="experiment_id",
        )
    arms = read_arms(session, experiment_id)
    candidates = [Candidate(v.id, v.name, v.template) for v, _ in arms if not v.paused]
    return experiment, candidates, arms


class DecisionService:
    def __init__(self, *, settings: Settings, models: LoadedModels, seed: int = 0) -> None:
        self.settings = settings
        self.models = models
        self.seed = seed

    # -- the single-lead path -------------------------------------------------------------
    # decide() reads and computes only; the caller appends the record to the decision log
    # (optimizer.decide.store.write_decision) in a short writing transaction of its own.
    def decide(
        self,
        session: Session,
        *,
        lead_id: int,
        experiment_id: int | None,
        template: str | None,
        horizon_hours: int,
        now: dt.datetime,
    ) -> DecisionRecord:
        lead = read_lead(session, lead_id)
        if lead is None:
            raise NotFound(f"lead {lead_id} does not exist", field="lead_id")
        experiment, candidates, arms = candidates_and_arms(
            session, experiment_id=experiment_id, template=template
        )
        events = load_lead_events(session, lead_id=lead.id, now=now)
        prepared = self.prepare(session, lead=lead, candidates=candidates, now=now, events=events)
        decision_id = str(uuid.uuid4())
        rng = decision_rng(self.seed, lead.id, now)
        if is_permanent(prepared.probe):
            record = self._blocked(
                prepared, decision_id=decision_id, experiment=experiment, now=now
            )
            return record
        score = self.models.score_one(session, lead=lead, now=now, events=events)
        chooser = (
            variant_chooser(
                session, experiment_id=experiment.id, now=now, arms=arms, experiment=experiment
            )
            if experiment is not None
            else None
        )
        record = self.choose(
            session,
            prepared=prepared,
            experiment=experiment,
            candidates=candidates,
            score=score,
            rng=rng,
            decision_id=decision_id,
            horizon_hours=horizon_hours,
            now=now,
            chooser=chooser,
        )
        return record

    def prepare(
        self,
        session: Session,
        *,
        lead: Lead,
        candidates: Sequence[Candidate],
        now: dt.datetime,
        events: LeadEvents | None = None,
    ) -> Prepared:
        zone = recipient_of(lead.phone_e164, lead.timezone, lead.state).display_zone
        facts = load_facts(session, lead=lead, now=now, events=events)
        probe_text = candidates[0].template if candidates else ""
        context = build_context(
            session,
            lead=lead,
            message=probe_text,
            send_at=now,
            now=now,
            settings=self.settings,
            events=events,
        )
        # The probe checks only what does not depend on the message: content is checked later on
        # the rendered text.
        memo: GateMemo = {}
        probe = evaluate(context.with_message(neutral_message(self.settings)), memo=memo)
        return Prepared(
            lead=lead,
            zone=zone,
            facts=facts,
            probe=probe,
            context=context,
            events=events,
            gate_memo=memo,
        )

    def _blocked(
        self,
        prepared: Prepared,
        *,
        decision_id: str,
        experiment: Experiment | None,
        now: dt.datetime,
    ) -> DecisionRecord:
        permanent = tuple(
            r for r in reasons_of(prepared.probe) if r.code.startswith(PERMANENT_PREFIXES)
        )
        return DecisionRecord(
            decision_id=decision_id,
            lead_id=prepared.lead.id,
            action="suppress",
            send_at=None,
            send_at_local=None,
            timezone=prepared.zone,
            experiment_id=experiment.id if experiment else None,
            variant_id=None,
            variant_name=None,
            text=None,
            segments=None,
            encoding=None,
            score=None,
            probability=None,
            segment=None,
            top_features=(),
            reasons=permanent,
            compliance_allowed=False,
            compliance_reasons=reasons_of(prepared.probe),
            next_allowed_at=None,
            rules_version=prepared.probe.rules_version,
            propensity=None,
            slot_propensity=None,
            expected_response=None,
            model_versions=self.models.versions(),
            created_at=now,
            as_of=now,
        )

    def choose(
        self,
        session: Session,
        *,
        prepared: Prepared,
        experiment: Experiment | None,
        candidates: Sequence[Candidate],
        score: ScoreRow,
        rng: np.random.Generator,
        decision_id: str,
        horizon_hours: int,
        now: dt.datetime,
        slot_probs: np.ndarray | None = None,
        chooser: VariantChooser | None = None,
    ) -> DecisionRecord:
        lead = prepared.lead
        reasons: list[DecisionReason] = [
            DecisionReason(
                f"score.{score.segment}",
                f"lead score {score.score:.0f}/100 ({score.segment}), P(convert) = {score.probability:.3f} "
                f"by {score.version}",
            )
        ]
        reasons.extend(DecisionReason(code, text) for code, text in self.models.fallback_reasons)
        tokens = lead_tokens(
            lead.attributes or {}, prepared.facts, now, brand=self.settings.brand_name
        )
        rendered = {c.variant_id: render(c.template, tokens) for c in candidates}
        eligible = [c for c in candidates if rendered[c.variant_id].ok]
        for c in candidates:
            if not rendered[c.variant_id].ok:
                missing = ", ".join(rendered[c.variant_id].missing)
                reasons.append(
                    DecisionReason(
                        "variant.ineligible",
                        f"variant {c.variant_name or 'template'!r} needs {missing}, which this lead lacks",
                    )
                )
        base = dict(
            decision_id=decision_id,
            lead_id=lead.id,
            timezone=prepared.zone,
            experiment_id=experiment.id if experiment else None,
            score=score.score,
            probability=score.probability,
            segment=score.segment,
            top_features=tuple(TopFeature(f, c) for f, c in score.top_features),
            model_versions=self.models.versions(),
            created_at=now,
            as_of=now,
        )
        if not eligible:
            return DecisionRecord(
                **base,  # type: ignore[arg-type]
                action="hold",
                send_at=None,
                send_at_local=None,
                variant_id=None,
                variant_name=None,
                text=None,
                segments=None,
                encoding=None,
                reasons=(
                    *reasons,
                    DecisionReason("render.no_variant", "no variant can be rendered for this lead"),
                ),
                compliance_allowed=False,
                compliance_reasons=(),
                next_allowed_at=None,
                rules_version=prepared.probe.rules_version,
                propensity=None,
                slot_propensity=None,
                expected_response=None,
            )
        lead_reasons = tuple(reasons)  # before the variant and the slot (a holdout keeps these)
        # Variant: the experiment's bandit chooses among the variants this lead can receive.
        propensity: float | None = 1.0
        variant_probabilities: dict[int, float] | None = None
        chosen = eligible[0]
        if experiment is not None:
            eligible_ids = [c.variant_id for c in eligible if c.variant_id is not None]
            lead_context = lead_context_of(lead, score)
            if chooser is not None:
                choice = chooser(rng, eligible_ids, lead_context)
            else:
                choice = self.models.choose_variant(
                    session,
                    experiment_id=experiment.id,
                    rng=rng,
                    eligible_variant_ids=eligible_ids,
                    now=now,
                    context=lead_context,
                )
            chosen = next(c for c in eligible if c.variant_id == choice.variant_id)
            propensity = choice.propensity
            variant_probabilities = dict(choice.probabilities) or None
            reasons.append(
                DecisionReason(
                    "variant.bandit",
                    f"{choice.policy} chose {chosen.variant_name!r}"
                    + (f" for segment {choice.segment}" if choice.segment else "")
                    + f" with probability {propensity:.3f}"
                    + (f" ({choice.reason})" if choice.reason else ""),
                )
            )
        text = rendered[chosen.variant_id].text
        assert text is not None
        seg = segment_info(text)
        context = prepared.context.with_message(text)
        # Send time: the gate's allowed mask over the horizon, the send-time model among the rest.
        slots64 = candidate_slots64(now, horizon_hours)  # for the gate and the send-time model
        mask = np.asarray(allowed_mask(context, slots64), dtype=bool)
        now_verdict = evaluate(context.with_send_at(now), memo=prepared.gate_memo)
        for reason in now_verdict.reasons:
            reasons.append(DecisionReason(reason.code, f"not now: {reason.message}", reason.source))
        if not mask.any():
            later = now_verdict.next_allowed_at  # next_allowed_at() of this very context
            return DecisionRecord(
                **base,  # type: ignore[arg-type]
                action="hold",
                send_at=None,
                send_at_local=None,
                variant_id=chosen.variant_id,
                variant_name=chosen.variant_name,
                text=text,
                segments=seg.segments,
                encoding=seg.encoding,
                reasons=(
                    *reasons,
                    DecisionReason(
                        "hold.no_allowed_slot",
                        f"no allowed send time in the next {horizon_hours} h",
                    ),
                ),
                compliance_allowed=False,
                compliance_reasons=reasons_of(now_verdict),
                next_allowed_at=later,
                rules_version=now_verdict.rules_version,
                propensity=propensity,
                variant_probabilities=variant_probabilities,
                slot_propensity=None,
                expected_response=None,
            )
        speed_window = dt.timedelta(minutes=self.settings.speed_to_lead_minutes)
        is_new = (now - lead.created_at) <= speed_window and not prepared.facts.touched
        if slot_probs is None:
            # Only the allowed slots are scored (the choice reads no other): the same pick and
            # propensity for about half the trees. The others stay NaN.
            allowed = np.flatnonzero(mask)
            slot_probs = np.full(len(slots64), np.nan)
            slot_probs[allowed] = self.models.slot_probabilities(
                session,
                lead=lead,
                slots=slots64[allowed],
                zone=prepared.zone,
                now=now,
                events=prepared.events,
            )
        if is_new and mask[0]:
            index, slot_propensity = 0, 1.0
            slot_log = SlotLog(len(mask), pack_mask(mask), 0, 0, 0.0, "speed_to_lead")
            reasons.append(
                DecisionReason(
                    "speed_to_lead",
                    f"new lead (created {int((now - lead.created_at).total_seconds())} s ago, no touch yet): "
                    "first contact now",
                )
            )
        else:
            slot = self.models.choose_slot(rng, slot_probs, mask)
            assert slot.index is not None and slot.best is not None
            index, slot_propensity = slot.index, slot.propensity
            slot_log = SlotLog(
                len(mask), pack_mask(mask), slot.best, index, slot.exploration, "model"
            )
            reasons.append(
                DecisionReason(
                    "slot.model",
                    f"best allowed slot by {self.models.send_time_version()}: predicted response "
                    f"{slot_probs[index]:.3f} (chosen with probability {slot_propensity:.3f})",
                )
            )
        send_at = slot_at(now, index)
        final = evaluate(context.with_send_at(send_at), memo=prepared.gate_memo)
        action = "send_now" if index == 0 else "send_at"
        if not final.allowed:  # the last word is the gate's, on the concrete text and time
            action = "hold"
            reasons.append(
                DecisionReason("gate.denied", "the gate denied the chosen text and time")
            )
        elif experiment is not None and in_holdout(
            # Only a text the gate allows is held out: a denied lead is not in the holdout.
            experiment_id=experiment.id,
            seed=experiment.seed,
            lead_id=lead.id,
            share=(share := share_of(experiment.policy_params)),
        ):
            return self._held_out(
                base, lead_reasons, share=share, experiment=experiment, verdict=final
            )
        return DecisionRecord(
            **base,  # type: ignore[arg-type]
            action=action,
            send_at=send_at if final.allowed else None,
            send_at_local=local_iso(send_at, prepared.zone) if final.allowed else None,
            variant_id=chosen.variant_id,
            variant_name=chosen.variant_name,
            text=text,
            segments=seg.segments,
            encoding=seg.encoding,
            reasons=tuple(reasons),
            compliance_allowed=final.allowed,
            compliance_reasons=reasons_of(final),
            next_allowed_at=final.next_allowed_at,
            rules_version=final.rules_version,
            propensity=propensity,
            variant_probabilities=variant_probabilities,
            slot_propensity=slot_propensity,
            expected_response=float(slot_probs[index]),
            slot_log=slot_log,
        )

    @staticmethod
    def _held_out(
        base: dict[str, Any],
        lead_reasons: tuple[DecisionReason, ...],
        *,
        share: float,
        experiment: Experiment,
        verdict: Verdict,
    ) -> DecisionRecord:
        """A ``hold`` for a lead of the experiment's randomised holdout: the gate would allow
        the text; the propensity logged is the probability of being held out."""
        return DecisionRecord(
            **base,
            action="hold",
            send_at=None,
            send_at_local=None,
            variant_id=None,
            variant_name=None,
            text=None,
            segments=None,
            encoding=None,
            reasons=(
                *lead_reasons,
                DecisionReason(
                    HOLDOUT_REASON,
                    f"held out of experiment {experiment.name!r}: a random {share:.0%} of its "
                    "leads get no text, to measure what the texts add",
                ),
            ),
            compliance_allowed=verdict.allowed,
            compliance_reasons=reasons_of(verdict),
            next_allowed_at=None,  # nothing to wait for: the lead stays held out
            rules_version=verdict.rules_version,
            propensity=share,
            slot_propensity=None,
            expected_response=None,
        )


def neutral_message(settings: Settings) -> str:
    """A message that passes every content rule, so the probe sees only lead-level rules."""
    return f"{settings.brand_name}: hello. Reply STOP to opt out."

"""Value objects of the decision service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("send_now", "send_at", "hold", "suppress")

# Gate reason-code prefixes that block a lead permanently (until a person acts): nothing else runs.
PERMANENT_PREFIXES = ("phone.", "consent.", "suppressed.", "dnc.")


@dataclass(frozen=True, slots=True)
class DecisionReason:
    code: str
    message: str
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.source:
            body["source"] = self.source
        return body


@dataclass(frozen=True, slots=True)
class TopFeature:
    feature: str
    contribution: float


SLOT_RULES = ("model", "speed_to_lead")


@dataclass(frozen=True, slots=True)
class SlotLog:
    """How a decision's send slot was chosen: enough to recompute the slot policy's whole
    distribution afterwards, for off-policy evaluation of another send-time policy.

    Slots are ``candidate_slots(as_of, slots)`` (``as_of`` itself, then each following full
    hour). ``allowed`` is the gate's mask over them as little-endian bits in hex
    (:func:`optimizer.decide.slots.pack_mask`). Rule ``model``: the greedy slot ``best`` with
    probability ``1 − exploration``, else a uniformly random allowed slot. Rule
    ``speed_to_lead``: a new lead is texted at once (slot 0, no choice made).
    """

    slots: int
    allowed: str
    best: int
    chosen: int
    exploration: float
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "slots": self.slots,
            "allowed": self.allowed,
            "best": self.best,
            "chosen": self.chosen,
            "exploration": self.exploration,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class DecisionRecord:
    decision_id: str
    lead_id: int
    action: str
    send_at: dt.datetime | None
    send_at_local: str | None
    timezone: str | None
    experiment_id: int | None
    variant_id: int | None
    variant_name: str | None
    text: str | None
    segments: int | None
    encoding: str | None
    score: float | None
    probability: float | None
    segment: str | None
    top_features: tuple[TopFeature, ...]
    reasons: tuple[DecisionReason, ...]
    compliance_allowed: bool
    compliance_reasons: tuple[DecisionReason, ...]
    next_allowed_at: dt.datetime | None
    rules_version: str | None
    propensity: float | None
    slot_propensity: float | None
    expected_response: float | None
    model_versions: dict[str, str]
    created_at: dt.datetime
    as_of: dt.datetime
    confirmation: dict[str, Any] | None = None
    expected_value: float | None = None
    variant_probabilities: dict[int, float] | None = None
    slot_log: SlotLog | None = None

    @property
    def sendable(self) -> bool:
        return self.action in ("send_now", "send_at")


@dataclass(frozen=True)
class BatchResult:
    considered: int
    selected: tuple[DecisionRecord, ...]
    not_selected: dict[str, int] = field(default_factory=dict)
    model_versions: dict[str, str] = field(default_factory=dict)
    logged: tuple[DecisionRecord, ...] = ()  # every full decision made, to append to the log
    # How the pool was ranked: "expected_value" (lead score × deal value × best send-time
    # response) or "expected_incremental_value" (with an uplift champion, whose version is
    # ``uplift_version``).
    ranking: str = "expected_value"
    uplift_version: str | None = None


@dataclass(frozen=True)
class ConfirmResult:
    decision_id: str
    allowed: bool
    reasons: tuple[DecisionReason, ...]
    confirmed_at: dt.datetime
    already_confirmed: bool
    event_id: int | None

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

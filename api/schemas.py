"""Request and response bodies of the HTTP API (separate from the table models)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from optimizer.vocabulary import CHANNELS, EVENT_TYPES

# Row ids are 64-bit signed integers in every store: a larger one is refused (422 naming the
# field), not sent to the database driver, which cannot bind it.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_SEED = 2**32 - 1  # numpy's seed range
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
MAX_EVENT_VALUE = 1e9  # revenue or any value an event carries, in either sign


def _non_finite_at(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinite float inside ``value`` (JSON ``NaN``, ``Infinity``
    or ``1e309``), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite_at(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _non_finite_at(item, f"{path}.{index}")
            if found:
                return found
    return None


class Strict(BaseModel):
    """Request bodies: unknown fields, NaN and infinities are refused (422 naming the field)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _finite_everywhere(self) -> Strict:
        # Free-form JSON (attributes, evidence, params) would otherwise store NaN for good.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, dict | list):
                found = _non_finite_at(value, name)
                if found:
                    raise ValueError(f"{found} is NaN or infinite (a finite number expected)")
        return self


class LeadIn(Strict):
    external_id: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    state: str | None = Field(default=None, max_length=30)
    postal_code: str | None = Field(default=None, max_length=12)
    timezone: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=100)
    vertical: str | None = Field(default=None, max_length=50)
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime | None = None


class LeadOut(BaseModel):
    id: int
    external_id: str
    phone_e164: str
    phone_type: str
    state: str | None
    states: list[str] = Field(description="every candidate US state of the recipient")
    timezone: str | None = Field(description="the zone stored on the lead, if any")
    timezones: list[str] = Field(
        description="every candidate time zone of the recipient (the gate checks each)"
    )
    display_timezone: str | None = Field(
        default=None,
        description="the one zone the recipient's hours are shown and modelled in",
    )
    email: str | None
    postal_code: str | None
    source: str | None
    vertical: str | None
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    changed: list[str] = Field(default_factory=list)


class ConsentIn(Strict):
    granted_at: dt.datetime
    method: Literal["web", "keyword", "paper", "voice"]
    brand: str = Field(min_length=1, max_length=200)
    disclosure: str = Field(min_length=1, max_length=5000)
    evidence: dict[str, Any] | None = None
    checkbox_unchecked_by_default: bool | None = None
    program_scope: str | None = Field(default=None, max_length=200)
    disclosed_frequency: str | None = Field(default=None, max_length=200)
    state_of_residence: str | None = Field(default=None, max_length=2)


class ConsentOut(BaseModel):
    id: int
    lead_id: int
    kind: str
    brand: str | None
    occurred_at: dt.datetime
    method: str | None
    disclosure_hash: str | None


class RevocationIn(Strict):
    at: dt.datetime
    channel: Literal["sms", "voice", "rcs", "webchat", "email"]
    text: str | None = Field(default=None, max_length=2000)


class LeadsOut(BaseModel):
    phone_e164: str
    leads: list[LeadOut]


class ActionOut(BaseModel):
    type: str
    lead_id: int | None  # None: the message came from a number no lead has
    phone_e164: str
    text: str | None
    reason: str


class RevocationOut(BaseModel):
    lead_id: int
    suppressed: bool
    actions: list[ActionOut]


class EventIn(Strict):
    idempotency_key: str = Field(min_length=1, max_length=200)
    # Exactly one of lead_id or phone: a phone names the number's lead, and an inbound or
    # reply message (an opt-out, HELP) is taken from a number no lead has.
    lead_id: Id | None = None
    phone: str | None = Field(default=None, min_length=1, max_length=40)
    type: str = Field(min_length=1, max_length=20, description="One of: " + ", ".join(EVENT_TYPES))
    channel: str = Field(min_length=1, max_length=20, description="One of: " + ", ".join(CHANNELS))
    occurred_at: dt.datetime
    text: str | None = Field(default=None, max_length=5000)
    value: float | None = Field(default=None, ge=-MAX_EVENT_VALUE, le=MAX_EVENT_VALUE)
    decision_id: str | None = Field(default=None, max_length=36)
    marketing: bool | None = None

    @model_validator(mode="after")
    def _one_recipient(self) -> EventIn:
        if (self.lead_id is None) == (self.phone is None):
            raise ValueError("exactly one of lead_id or phone is required")
        return self


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=5000)


class EventsOut(BaseModel):
    accepted: int
    duplicates: int
    actions: list[ActionOut]


class ReasonOut(BaseModel):
    code: str
    message: str
    source: str | None = None


class ComplianceOut(BaseModel):
    allowed: bool
    reasons: list[ReasonOut]
    next_allowed_at: dt.datetime | None
    rules_version: str | None = None
    dnc_waived: bool = Field(
        default=False,
        description="decided under OPTIMIZER_DNC_WAIVED (no DNC registry check: every send "
        "carries prior express written consent); the rules version ends in +dnc_waived",
    )


class NextBestActionIn(Strict):
    lead_id: Id
    experiment_id: Id | None = None
    template: str | None = Field(default=None, min_length=1, max_length=2000)
    horizon_hours: int = Field(default=72, ge=1, le=336)
    as_of: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_message_source(self) -> NextBestActionIn:
        if (self.experiment_id is None) == (self.template is None):
            raise ValueError("exactly one of experiment_id or template is required")
        return self


class TopReasonOut(BaseModel):
    feature: str
    contribution: float


class DecisionOut(BaseModel):
    decision_id: str
    lead_id: int
    action: Literal["send_now", "send_at", "hold", "suppress"]
    send_at: dt.datetime | None
    send_at_local: str | None
    timezone: str | None
    variant_id: int | None
    variant_name: str | None
    text: str | None
    segments: int | None
    encoding: str | None
    score: float | None
    probability: float | None
    segment: str | None
    top_features: list[TopReasonOut]
    reasons: list[ReasonOut]
    compliance: ComplianceOut
    propensity: float | None
    slot_propensity: float | None
    expected_response: float | None
    model_versions: dict[str, str]
    rules_version: str | None
    created_at: dt.datetime
    as_of: dt.datetime
    confirmation: dict[str, Any] | None = None


class BatchIn(Strict):
    lead_ids: list[Id] | None = Field(default=None, max_length=100_000)
    capacity: int = Field(ge=0, le=100_000)
    horizon_hours: int = Field(default=72, ge=1, le=336)
    experiment_id: Id | None = None
    template: str | None = Field(default=None, min_length=1, max_length=2000)
    as_of: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_message_source(self) -> BatchIn:
        if (self.experiment_id is None) == (self.template is None):
            raise ValueError("exactly one of experiment_id or template is required")
        return self


class BatchOut(BaseModel):
    considered: int
    selected: list[DecisionOut]
    not_selected: dict[str, int]
    model_versions: dict[str, str]
    # "expected_value" (lead score × deal value × best send-time response), or, with an uplift
    # champion trained on the store's features, "expected_incremental_value" (uplift × deal
    # value − cost of a text − expected opt-out cost; leads below 0 are not texted).
    ranking: Literal["expected_value", "expected_incremental_value"]
    uplift_model_version: str | None


class ConfirmIn(Strict):
    as_of: dt.datetime | None = None
    # The SMS provider's id of the message this decision was sent as (Twilio's MessageSid,
    # Telnyx's message id), so its status callbacks attach to the decision: confirm, send,
    # then confirm again with the id (a repeated confirm answers the first answer).
    provider_message_id: str | None = Field(default=None, min_length=1, max_length=100)
    provider: Literal["twilio", "telnyx"] | None = None


class ConfirmOut(BaseModel):
    decision_id: str
    allowed: bool
    reasons: list[ReasonOut]
    confirmed_at: dt.datetime
    already_confirmed: bool
    event_id: int | None
    # The provider message id linked to this decision (None: none given, or the gate refused
    # the decision, so nothing should have been sent).
    provider_message_id: str | None = None


class VariantIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    template: str = Field(min_length=1, max_length=2000)


# true (the default share), or a share; 1 is refused, not read as true.
HoldoutShare = StrictBool | Annotated[float, Field(ge=0.0, le=0.5, allow_inf_nan=False)] | None


class ExperimentIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    metric: Literal["reply", "click", "conversion", "revenue"]
    policy: str = Field(default="thompson", min_length=1, max_length=40)
    variants: list[VariantIn] = Field(min_length=2, max_length=20)
    control: str | None = None
    params: dict[str, Any] | None = None
    attribution_hours: int | None = Field(default=None, ge=1, le=24 * 60)
    seed: Seed = 0
    holdout: HoldoutShare = Field(
        default=None,
        description="A randomised holdout: this share of the experiment's leads (0 to 0.5; "
        "true for 5%) get no text, so the texts' incremental effect can be measured.",
    )


class VariantOut(BaseModel):
    id: int
    name: str
    template: str
    paused: bool
    pause_reason: str | None


class ExperimentOut(BaseModel):
    id: int
    name: str
    metric: str
    policy: str
    status: str
    control_variant_id: int | None
    attribution_hours: int
    holdout: float
    created_at: dt.datetime
    stopped_at: dt.datetime | None
    variants: list[VariantOut]


class AuditRowIn(Strict):
    phone: str | None = None
    send_at: str | None = None
    message: str | None = None
    state: str | None = None
    timezone: str | None = None
    consent_at: str | None = None
    opted_out_at: str | None = None
    prior_sends: str | None = None
    last_reply_at: str | None = None
    first_in_sequence: str | bool | None = None
    dnc: str | bool | None = None


class AuditIn(Strict):
    rows: list[AuditRowIn] = Field(min_length=1, max_length=50_000)
    policy: Literal["legal", "house"] = "house"
    brand: str | None = None


class BannedDateIn(Strict):
    state: str = Field(min_length=2, max_length=2)
    date: dt.date
    reason: str = Field(min_length=1, max_length=300)

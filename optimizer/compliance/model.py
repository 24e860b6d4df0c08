"""Value objects of the gate: the context it judges, its policy, and the verdict it returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from optimizer.compliance.recipient import resolve_recipient
from optimizer.phones import PhoneInfo

PolicyName = Literal["legal", "house"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One failing rule: a stable code (``quiet_hours.state.FL``), a sentence, the rule's source."""

    code: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer. ``next_allowed_at`` is the earliest instant >= the proposed send time
    at which every time rule passes (the send time itself when allowed); ``None`` when a
    non-time rule fails or nothing opens within the search horizon."""

    allowed: bool
    reasons: tuple[Reason, ...]
    next_allowed_at: dt.datetime | None
    rules_version: str

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """``legal`` is the floor (federal + state + content minimum); ``house`` adds stricter limits."""

    name: PolicyName
    brand: str
    window: tuple[int, int] | None = None  # house window [start, end) local hours, every day
    max_per_24h: int | None = None  # house cap in every state (state caps apply regardless)
    max_per_7d: int | None = None
    max_per_30d: int | None = None
    conversation_hours: int | None = None  # a reply this recent waives the 7-day cap
    max_segments: int = 10
    dnc_max_age_days: int = 31
    dnc_consent_exemption: bool = True  # PEWC exempts a registry hit (legal); house: never
    # The operator waived DNC checking (every send has prior express written consent): no
    # national registry copy is then no denial, and the verdict's rules version records it.
    dnc_waived: bool = False
    address_state_adds_zones: bool = True
    source: str = "house policy"


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One consent-ledger record as the gate needs it."""

    kind: Literal["grant", "revoke"]
    occurred_at: dt.datetime
    brand: str | None = None  # None on a revoke = every brand of the sender
    method: str | None = None


@dataclass(frozen=True, slots=True)
class SuppressionStatus:
    """The active suppression of a number (the latest record per phone was ``suppress``)."""

    since: dt.datetime
    reason: str = "opt_out"
    source: str = ""


@dataclass(frozen=True, slots=True)
class DncCheck:
    """A DNC registry copy that covers this number: listed or not, and how old the copy is."""

    registry: str  # national | two-letter state
    listed: bool
    age_days: int | None  # age of the copy at the time of the check (None = unknown)


@dataclass(frozen=True, slots=True)
class BannedDay:
    """A run-time banned day (governor-declared holiday, emergency); state ``US`` = every state."""

    state: str
    day: dt.date
    reason: str


@dataclass(frozen=True, slots=True)
class InboundClassification:
    intent: Literal["opt_out", "help", "start", "other"]
    rule: str | None


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int  # GSM-7 septets or UTF-16 code units


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def to_ns(value: dt.datetime) -> int:
    """Exact nanoseconds since the epoch of an aware datetime."""
    if value.tzinfo is None:
        raise ValueError(f"datetime {value!r} has no time zone (aware UTC expected)")
    return ((value - _EPOCH) // _MICROSECOND) * 1000


def from_ns(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value // 1000)


@dataclass(frozen=True, slots=True)
class GateContext:
    """Everything a verdict needs. Cheap to ``dataclasses.replace`` with another message or
    send time: the candidate zones and states are derived in ``__post_init__``."""

    phone: PhoneInfo | None  # None: the number could not be parsed (see phone_error)
    send_at: dt.datetime
    message: str
    policy: PolicyConfig
    phone_raw: str = ""
    phone_error: str | None = None
    lead_time_zone: str | None = None  # explicit zone from the lead record
    address_state: str | None = None  # known state of residence
    consents: tuple[ConsentEntry, ...] = ()
    suppression: SuppressionStatus | None = None
    dnc: tuple[DncCheck, ...] = ()
    # The store holds no national DNC registry copy (as of the decision): the gate denies
    # (dnc.registry_missing) unless the policy waives DNC. Contexts built by hand that carry
    # their own ``dnc`` checks leave it False.
    dnc_registry_missing: bool = False
    prior_sends: tuple[dt.datetime, ...] = ()  # earlier marketing texts to this lead
    last_reply_at: dt.datetime | None = None
    first_in_sequence: bool = True
    marketing: bool = True
    extra_banned_dates: tuple[BannedDay, ...] = ()
    candidate_zones: tuple[str, ...] = field(init=False, default=())
    candidate_states: tuple[str, ...] = field(init=False, default=())
    prior_sends_ns: np.ndarray = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        recipient = resolve_recipient(
            self.phone,
            self.lead_time_zone,
            self.address_state,
            address_state_adds_zones=self.policy.address_state_adds_zones,
        )
        object.__setattr__(self, "candidate_zones", recipient.zones)
        object.__setattr__(self, "candidate_states", recipient.states)
        sends = np.sort(np.array([to_ns(s) for s in self.prior_sends], dtype=np.int64))
        object.__setattr__(self, "prior_sends_ns", sends)

    def with_message(self, message: str) -> GateContext:
        """``dataclasses.replace(self, message=message)``: what ``__post_init__`` derives does
        not read the message, so it is copied instead of derived again."""
        return self._copy_with("message", message)

    def with_send_at(self, send_at: dt.datetime) -> GateContext:
        """``dataclasses.replace(self, send_at=send_at)`` (the derived fields copied, as in
        :meth:`with_message`)."""
        return self._copy_with("send_at", send_at)

    def _copy_with(self, name: str, value: object) -> GateContext:
        copy = object.__new__(GateContext)
        for slot in _GATE_CONTEXT_SLOTS:
            object.__setattr__(copy, slot, getattr(self, slot))
        object.__setattr__(copy, name, value)
        return copy


# Every attribute of a GateContext, the derived ones included (what ``_copy_with`` copies).
_GATE_CONTEXT_SLOTS: tuple[str, ...] = tuple(GateContext.__slots__)

"""Tables of the store (SQLAlchemy 2 typed ORM).

Append-only tables (consents, suppressions, events, decisions, decision confirmations,
decision rewards, lead changes, provider messages) are protected by database triggers created in the migrations:
an UPDATE or DELETE on them is rejected by the database itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

APPEND_ONLY_TABLES = (
    "consents",
    "suppressions",
    "events",
    "decisions",
    "decision_confirmations",
    "decision_rewards",
    "lead_changes",
    "provider_messages",
    "policy_evaluations",
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"datetime {value!r} has no time zone (aware UTC expected)")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    phone_e164: Mapped[str] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    state: Mapped[str | None] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(12))
    timezone: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str | None] = mapped_column(String(100))
    vertical: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class LeadChange(Base):
    """Append-only record of every change to a lead's fields (who changed what, when)."""

    __tablename__ = "lead_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    changed_at: Mapped[dt.datetime]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(String(100))


class Consent(Base):
    """The consent ledger: one row per grant or revocation (append-only).

    A grant carries every field compliance-rules.md lists for a consent record; a revocation
    carries the raw inbound text, channel, time received and the rule that matched.
    """

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_phone_time", "phone_e164", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))  # grant | revoke
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    phone_e164: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime]
    # Grant fields.
    method: Mapped[str | None] = mapped_column(String(20))  # web | keyword | paper | voice
    disclosure_text: Mapped[str | None] = mapped_column(Text)
    disclosure_hash: Mapped[str | None] = mapped_column(String(64))
    checkbox_unchecked_by_default: Mapped[bool | None] = mapped_column(Boolean)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    program_scope: Mapped[str | None] = mapped_column(String(200))
    disclosed_frequency: Mapped[str | None] = mapped_column(String(200))
    state_of_residence: Mapped[str | None] = mapped_column(String(2))
    # Revocation fields.
    channel: Mapped[str | None] = mapped_column(String(20))
    raw_text: Mapped[str | None] = mapped_column(Text)
    rule_matched: Mapped[str | None] = mapped_column(String(100))
    confirmation_text: Mapped[str | None] = mapped_column(Text)


class Suppression(Base):
    """Append-only suppression records; a reversal is a new record with action='reverse'."""

    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_phone_time", "phone_e164", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone_e164: Mapped[str] = mapped_column(String(20))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    action: Mapped[str] = mapped_column(String(10))  # suppress | reverse
    reason: Mapped[str] = mapped_column(String(100))  # opt_out | wrong_number | manual | ...
    source: Mapped[str] = mapped_column(String(100))  # inbound_sms | api | import | ...
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class DncImport(Base):
    __tablename__ = "dnc_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registry_name: Mapped[str] = mapped_column("registry", String(20))  # national | state
    as_of: Mapped[dt.date] = mapped_column(Date)
    imported_at: Mapped[dt.datetime]
    source_name: Mapped[str | None] = mapped_column(String(500))
    numbers: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)


class DncNumber(Base):
    __tablename__ = "dnc_numbers"
    __table_args__ = (UniqueConstraint("import_id", "phone_e164"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("dnc_imports.id"))
    registry_name: Mapped[str] = mapped_column("registry", String(20))
    phone_e164: Mapped[str] = mapped_column(String(20), index=True)


class BannedDate(Base):
    """Extra banned days added at run time (governor-declared holiday, emergency)."""

    __tablename__ = "banned_dates"
    __table_args__ = (UniqueConstraint("state", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(2))
    day: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime]


class Event(Base):
    """One timeline for every channel (append-only, idempotent by key)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_lead_time", "lead_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    type: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime]
    text: Mapped[str | None] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    decision_id: Mapped[str | None] = mapped_column(String(36), index=True)
    variant_id: Mapped[int | None] = mapped_column(Integer)
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    metric: Mapped[str] = mapped_column(String(20))  # reply | click | conversion | revenue
    policy: Mapped[str] = mapped_column(String(40))
    policy_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="running")
    control_variant_id: Mapped[int | None] = mapped_column(Integer)
    attribution_hours: Mapped[int] = mapped_column(Integer, default=72)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime | None]


class Variant(Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("experiment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[float | None] = mapped_column(Float)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)


class ArmStats(Base):
    """Sufficient statistics per arm, updated atomically in SQL (``SET x = x + 1``)."""

    __tablename__ = "arm_stats"

    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), index=True)
    sends: Mapped[int] = mapped_column(BigInteger, default=0)
    successes: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_sum: Mapped[float] = mapped_column(Float, default=0.0)
    revenue_sum_sq: Mapped[float] = mapped_column(Float, default=0.0)
    opt_outs: Mapped[int] = mapped_column(BigInteger, default=0)
    propensity_inv_sum: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime | None]


class Decision(Base):
    """The decision log (append-only): every reason, model versions and propensity."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_lead_time", "lead_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    created_at: Mapped[dt.datetime]
    as_of: Mapped[dt.datetime]
    action: Mapped[str] = mapped_column(String(12))  # send_now | send_at | hold | suppress
    send_at: Mapped[dt.datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))
    experiment_id: Mapped[int | None] = mapped_column(Integer, index=True)
    variant_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    probability: Mapped[float | None] = mapped_column(Float)
    segment: Mapped[str | None] = mapped_column(String(10))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    allowed: Mapped[bool] = mapped_column(Boolean)
    compliance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_allowed_at: Mapped[dt.datetime | None]
    propensity: Mapped[float | None] = mapped_column(Float)
    slot_propensity: Mapped[float | None] = mapped_column(Float)
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rules_version: Mapped[str | None] = mapped_column(String(40))
    policy: Mapped[str | None] = mapped_column(String(20))
    first_in_sequence: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DecisionConfirmation(Base):
    """The dispatch-time re-check of a decision (append-only, one per decision)."""

    __tablename__ = "decision_confirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), unique=True)
    confirmed_at: Mapped[dt.datetime]
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    event_id: Mapped[int | None] = mapped_column(Integer)


class DecisionReward(Base):
    """A decision's delayed reward, attached once (unique per decision and metric)."""

    __tablename__ = "decision_rewards"
    __table_args__ = (UniqueConstraint("decision_id", "metric"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    metric: Mapped[str] = mapped_column(String(20))
    variant_id: Mapped[int | None] = mapped_column(Integer)
    reward: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(10))  # outcome | closed
    event_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[dt.datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class UiSession(Base):
    """A UI login: a random token kept only as its SHA-256, bound to the key that opened it."""

    __tablename__ = "ui_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class ProviderMessage(Base):
    """What an SMS provider's webhook told us, one row per fact (append-only).

    ``kind``: ``inbound`` (a message received, status ``received``), ``status`` (a delivery
    status of a message we sent: ``queued`` … ``delivered``/``undelivered``/``failed``), or
    ``outbound`` (status ``linked``: the provider's id of the message a confirmed decision was
    sent as, given at confirm). The unique key makes a webhook delivered twice count once.
    No message text is kept here (an opt-out's text is in the consent ledger).
    """

    __tablename__ = "provider_messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id", "kind", "status"),
        Index("ix_provider_messages_message", "provider_message_id", "kind"),
        Index("ix_provider_messages_decision", "decision_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20))  # twilio | telnyx | any (a link)
    provider_message_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # inbound | status | outbound
    status: Mapped[str] = mapped_column(String(20))
    raw_status: Mapped[str | None] = mapped_column(String(40))  # the provider's own word
    error_code: Mapped[str | None] = mapped_column(String(20))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"))
    # What the service did: opt_out | help | start | carrier_stop | unreachable | content_flag.
    action: Mapped[str | None] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(Text)  # the reply text answered (inbound)
    occurred_at: Mapped[dt.datetime | None]  # the provider's time, when it gives one
    received_at: Mapped[dt.datetime]


class PolicyEvaluation(Base):
    """An off-policy estimate of a candidate policy from an experiment's own log (append-only).

    One row per ``optimizer experiments evaluate-policy --log store`` run (migration 0004):
    ``estimates`` maps each estimator (``ipw``, ``snipw``, ``dm``, ``dr`` …) to its ``value``,
    ``ci_low``, ``ci_high`` (non-finite figures stored as null); ``current_*`` is the logged
    policy's own value (the mean reward of the logged sends) with its interval.
    """

    __tablename__ = "policy_evaluations"
    __table_args__ = (Index("ix_policy_evaluations_experiment", "experiment_id", "evaluated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"))
    policy: Mapped[str] = mapped_column(
        String(200)
    )  # the candidate as given: uniform | variant:NAME | split:…
    candidate: Mapped[dict[str, Any]] = mapped_column(JSON)  # variant name -> probability
    logging_policy: Mapped[str] = mapped_column(String(40))  # the experiment's own policy
    metric: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(Integer)  # logged sends with a known reward used
    pending: Mapped[int] = mapped_column(Integer)  # sends whose reward was not known yet
    current_value: Mapped[float] = mapped_column(Float)
    current_low: Mapped[float] = mapped_column(Float)
    current_high: Mapped[float] = mapped_column(Float)
    estimates: Mapped[dict[str, Any]] = mapped_column(JSON)
    effective_sample_size: Mapped[float] = mapped_column(Float)
    max_weight: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    resamples: Mapped[int] = mapped_column(Integer)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    evaluated_at: Mapped[dt.datetime]

"""One settings object, read from the environment (prefix ``OPTIMIZER_``).

Never import a module-level instance: call :func:`get_settings` (cached) so that tests and the
API can override it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from optimizer.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# PostgreSQL defaults (see Settings.resolved_decision_threads and resolved_pool): decision
# threads, and connections beyond the threads that may hold one at once (start-up, a model
# reload, the odd nested unit of work).
POSTGRESQL_DECISION_THREADS = 2
POOL_OVERFLOW = 4


def _default_var_dir() -> Path:
    return Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTIMIZER_", extra="ignore")

    var_dir: Path = Field(default_factory=_default_var_dir)
    database_url: str = ""
    mlflow_tracking_uri: str = ""
    data_dir: Path = Field(default_factory=lambda: PROJECT_ROOT.parent / "shared" / "data")

    # Compliance and house policy.
    brand_name: str = "Acme Home Services"
    help_text: str = (
        "{brand}: for help call 1-800-555-0100 or email care@example.com. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )
    opt_out_confirmation_text: str = "{brand}: you are unsubscribed and will receive no more messages. Reply START to resubscribe."
    policy: str = "house"
    house_window_start_hour: int = 9
    house_window_end_hour: int = 20
    house_max_per_7d: int = 1
    house_max_per_30d: int = 4
    house_conversation_hours: int = 72
    house_max_segments: int = 2
    legal_max_segments: int = 10
    dnc_max_age_days: int = 31
    # With no national Do-Not-Call registry copy imported the gate denies every marketing send
    # (dnc.registry_missing). True states that every send carries prior express written consent,
    # so DNC checking is waived: sends are allowed and each verdict's rules version says so.
    dnc_waived: bool = False

    # Decisions.
    horizon_hours: int = 72
    speed_to_lead_minutes: int = 5
    attribution_hours: int = 72
    conversion_horizon_days: int = 14
    simulation: bool = False
    # Times the service accepts (occurred_at, granted_at, at, created_at, as_of, report periods):
    # timezone-aware, not before ``earliest_time`` and not after the server's clock plus
    # ``clock_skew_seconds`` (a simulation's clock may run ahead of the server's: there the
    # bound is the server's clock plus ``simulation_ahead_days``).
    earliest_time: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    clock_skew_seconds: float = Field(default=300.0, ge=0, le=86_400)
    simulation_ahead_days: int = Field(default=3660, ge=0, le=36_500)
    seed: int = 0  # seeds every random draw of the decision service (logged with decisions)

    # API: a verified key is trusted this long before the store is asked again (a key revoked
    # in the store stops working within this time; 0 asks the store on every request).
    key_cache_seconds: float = Field(default=5.0, ge=0)
    # Request handlers running at once in one server process (the rest wait their turn), and
    # the threads single-lead decisions run on besides them. Unset, decision threads are 1 on
    # SQLite (a decision is CPU-bound there: one thread gives the most per second) and 2 on
    # PostgreSQL (a decision waits for the server's round trips: a second one computes
    # meanwhile); see :meth:`resolved_decision_threads`.
    server_threads: int = Field(default=8, ge=1, le=256)
    decision_threads: int | None = Field(default=None, ge=1, le=64)
    # Connections the server's store engine keeps open (per process), and how many more it may
    # open at a peak. Unset: on PostgreSQL, one per thread that may hold one at once
    # (server_threads + decision threads) plus POOL_OVERFLOW; on SQLite the store's own sizes
    # (20 and 30). See :meth:`resolved_pool`.
    pool_size: int | None = Field(default=None, ge=1, le=1000)
    pool_max_overflow: int | None = Field(default=None, ge=0, le=1000)
    # How long a thread may hold the interpreter lock while another waits for it (5 ms is
    # Python's default): a response that is ready waits at most this long for a decision
    # running on another thread.
    switch_interval_ms: float = Field(default=5.0, gt=0, le=100)
    # Server logs: one JSON object per line (for a log shipper), or a readable console line.
    log_format: Literal["json", "console"] = "json"
    # SQLite: how often the server copies the write-ahead log back into the database file.
    checkpoint_seconds: float = Field(default=1.0, gt=0)

    # SMS providers' webhooks (docs/providers.md). The Twilio auth token signs Twilio's
    # requests (X-Twilio-Signature); the Telnyx public key (base64 Ed25519) verifies Telnyx's
    # (telnyx-signature-ed25519). Unset, that provider's webhooks are refused (403). The URL the
    # provider signs is the public base URL plus the path when set, else the request's own URL.
    twilio_auth_token: str = ""
    telnyx_public_key: str = ""
    public_base_url: str = ""
    # A Telnyx webhook signed longer ago than this (or this far ahead of the server's clock)
    # is refused as a replay.
    telnyx_timestamp_tolerance_seconds: float = Field(default=300.0, gt=0, le=3600)

    # Models.
    lead_score_model_name: str = "lead-score"
    send_time_model_name: str = "send-time"
    uplift_model_name: str = "uplift"
    # Ranking a batch by expected incremental value (with an uplift champion): the cost of one
    # text and the value lost when a lead opts out, in the unit of the leads' ``deal_value``
    # (1 per outcome when a lead has none). The opt-out probability of a text is the
    # experiment's pooled opt-outs per send, shrunk towards ``opt_out_prior_rate`` with the
    # weight of ``opt_out_prior_sends`` sends (the prior alone for a template batch).
    text_cost: float = Field(default=0.0, ge=0, le=1e6)
    opt_out_cost: float = Field(default=0.0, ge=0, le=1e9)
    opt_out_prior_rate: float = Field(default=0.01, ge=0, le=1)
    opt_out_prior_sends: float = Field(default=200.0, ge=0, le=1e9)
    promote_margin: float = 0.002
    # A model that failed to load (its baseline answers meanwhile) is tried again at most this
    # often, so a store that comes back is picked up without costing every request a retry.
    model_retry_seconds: float = Field(default=30.0, ge=0)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'optimizer.db').as_posix()}"

    def is_postgresql(self) -> bool:
        """Whether the store is PostgreSQL: the URL's scheme is ``postgresql`` or
        ``postgresql+driver`` (read as SQLAlchemy reads it, without importing it here: the pure
        modules import the settings; a malformed URL is refused when the store is opened)."""
        scheme, found, _rest = self.resolved_database_url().partition("://")
        return bool(found) and scheme.partition("+")[0] == "postgresql"

    def resolved_decision_threads(self) -> int:
        """``decision_threads`` if set, else 2 on PostgreSQL and 1 on SQLite."""
        if self.decision_threads is not None:
            return self.decision_threads
        return POSTGRESQL_DECISION_THREADS if self.is_postgresql() else 1

    def resolved_pool(self) -> tuple[int | None, int | None]:
        """(pool size, max overflow) of the server's store engine: ``pool_size`` and
        ``pool_max_overflow`` if set; else on PostgreSQL ``server_threads`` + decision threads
        and ``POOL_OVERFLOW``, on SQLite None (the store's own sizes,
        :func:`optimizer.store.db.make_engine`)."""
        size: int | None = None
        overflow: int | None = None
        if self.is_postgresql():
            size = self.server_threads + self.resolved_decision_threads()
            overflow = POOL_OVERFLOW
        if self.pool_size is not None:
            size = self.pool_size
        if self.pool_max_overflow is not None:
            overflow = self.pool_max_overflow
        return size, overflow

    def resolved_mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.var_dir / 'mlflow.db').as_posix()}"

    def mlflow_artifact_root(self) -> str:
        return (self.var_dir / "mlartifacts").resolve().as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment; a value that breaks a constraint raises
    :class:`InvalidInput` naming the variable, the value and what was expected."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"OPTIMIZER_{'_'.join(str(p) for p in error['loc']).upper()}={error.get('input')!r}: "
            f"{error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInput(f"setting {problems}") from None

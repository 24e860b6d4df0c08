"""Send-time evaluation in the simulator: fixed 10:00 local vs random allowed vs model vs oracle.

1. A world with ``config.history_leads`` existing leads; their past (consent, engagement, the
   logging policy's texts and outcomes) is written to a temporary store through the service layer.
2. The send-time model is trained from that store (the same rows and fit as
   ``optimizer train send-time``, without the MLflow logging).
3. ``leads`` new form fills (same world) are each given one text within the horizon (hourly
   slots, 72 h) from a common decision time, chosen by (a) the first allowed 10:00 local, (b) a
   uniformly random allowed slot, (c) the model's best allowed slot, (d) the truly best allowed
   slot. The allowed mask is the compliance gate's (``optimizer.compliance.allowed_mask``).
4. Rates are the exact response probabilities at the chosen slots (and a realised rate with
   common random numbers); the independent checker counts violations among every slot the gate
   allowed and among the chosen texts.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.models.send_time_features import lead_frame, lead_zone
from optimizer.settings import Settings
from optimizer.simulation.checker import OK
from optimizer.simulation.config import SimConfig
from optimizer.simulation.history import write_history
from optimizer.simulation.world import SimLead, World
from optimizer.store.db import make_engine, session_factory, transaction, upgrade

MaskFn = Callable[[SimLead, np.ndarray], np.ndarray]
POLICIES = ("fixed_10am", "random", "model", "oracle")


@dataclass(frozen=True)
class SendTimeEval:
    seed: int
    leads: int
    evaluated: int  # leads with at least one allowed slot
    held: int  # leads the gate allowed nothing (no consent, ...)
    rates: dict[str, float]  # expected response rate per policy
    realised: dict[str, float]  # realised response rate (common random numbers)
    lift_model_over_fixed: float  # rate(model) / rate(fixed_10am) - 1
    oracle_share_captured: float  # (model - fixed) / (oracle - fixed)
    violations: int  # checker violations among the chosen texts of every policy
    violations_allowed_slots: int  # checker violations among every slot the gate allowed
    mask: str
    train_rows: int
    train_positives: int
    holdout_roc_auc: float
    priors_roc_auc: float
    model_version: str
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def gate_mask(settings: Settings) -> tuple[MaskFn, str]:
    """The real gate's allowed-mask for a simulated lead (house policy, first text)."""
    from optimizer.compliance import ConsentEntry, GateContext, allowed_mask, policy_from_settings
    from optimizer.phones import parse_phone

    policy = policy_from_settings(settings, settings.policy)
    text = f"{settings.brand_name}: hi, your quote is ready. Reply STOP to opt out."

    def mask(lead: SimLead, slots: np.ndarray) -> np.ndarray:
        consents: tuple[ConsentEntry, ...] = ()
        if lead.consent_given and lead.consent_at is not None:
            consents = (ConsentEntry("grant", lead.consent_at, settings.brand_name, "web"),)
        first = pd.Timestamp(slots[0]).tz_localize("UTC").to_pydatetime()
        ctx = GateContext(
            phone=parse_phone(lead.phone),
            send_at=first,
            message=text,
            policy=policy,
            phone_raw=lead.phone,
            address_state=lead.state,
            consents=consents,
        )
        return np.asarray(allowed_mask(ctx, slots), dtype=bool)

    return mask, f"gate:{settings.policy}"


def _choices(
    rng: np.random.Generator,
    mask: np.ndarray,
    model: np.ndarray,
    truth: np.ndarray,
    local_hour: np.ndarray,
) -> dict[str, np.ndarray]:
    n, s = mask.shape
    any_allowed = mask.any(axis=1)
    neg = -np.inf
    model_pick = np.argmax(np.where(mask, model, neg), axis=1)
    oracle_pick = np.argmax(np.where(mask, truth, neg), axis=1)
    ten = mask & (local_hour == 10)
    first_ten = np.argmax(local_hour == 10, axis=1)
    after = mask & (np.arange(s)[None, :] >= first_ten[:, None])
    fixed = np.where(
        ten.any(axis=1),
        np.argmax(ten, axis=1),
        np.where(after.any(axis=1), np.argmax(after, axis=1), np.argmax(mask, axis=1)),
    )
    counts = mask.sum(axis=1)
    k = (rng.random(n) * np.maximum(counts, 1)).astype(np.int64)
    random_pick = np.argmax(np.cumsum(mask, axis=1) > k[:, None], axis=1)
    out = {"fixed_10am": fixed, "random": random_pick, "model": model_pick, "oracle": oracle_pick}
    return {name: np.where(any_allowed, pick, -1) for name, pick in out.items()}


def evaluate_send_time(
    *,
    config: SimConfig,
    leads: int,
    settings: Settings,
    now: dt.datetime,
    horizon_hours: int = 72,
    mask_fn: MaskFn | None = None,
    workdir: Path | None = None,
) -> SendTimeEval:
    from training.train_send_time import fit_send_time, load_frames, send_rows

    started = time.perf_counter()
    world = World.create(config, start=now, days=1, arrivals=leads, brand=settings.brand_name)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'eval.db'}")
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            write_history(
                session, world, leads=None, settings=settings, now=now, delivery_receipts=False
            )
        with transaction(session_factory(engine)) as session:
            lead_df, events = load_frames(session)
        engine.dispose()
    rows = send_rows(lead_df, events, attribution_hours=settings.attribution_hours, now=now)
    fit = fit_send_time(rows, seed=config.seed, version="eval")
    model = fit.model
    # Evaluation leads: the form fills of the next day, decided two days after the last one.
    idx = world.arrivals()
    pop = world.population
    decide_at = now + dt.timedelta(days=3)
    slots = pd.date_range(pd.Timestamp(decide_at).ceil("h"), periods=horizon_hours, freq="h")
    slots_np = slots.tz_convert(None).as_unit("ns").to_numpy()
    slot_epochs = (slots.as_unit("s").asi8).astype(np.int64)
    sims = [world.lead(int(i)) for i in idx]
    zones = np.array([lead_zone(s.phone, s.timezone, s.state) for s in sims], dtype=object)
    ids = np.asarray(idx, dtype=np.int64)
    history = world.history_frame(idx)
    ev = pd.DataFrame(
        {
            "lead_id": np.array([world.index[k] for k in history["lead_key"]], dtype=np.int64),
            "type": history["type"],
            "occurred_at": history["occurred_at"],
            "marketing": np.zeros(len(history), dtype=bool),
        }
    )
    leads_df = pd.DataFrame(
        {
            "vertical": [s.vertical for s in sims],
            "source": [s.source for s in sims],
            "timezone": zones,
        },
        index=pd.Index(ids, name="lead_id"),
    )
    features = lead_frame(
        leads_df,
        ev,
        rows_lead=ids,
        rows_at=np.full(len(ids), np.datetime64(decide_at.replace(tzinfo=None), "ns")),
    )
    scores = model.score_slots(features, slots_np, zones)
    truth = world.true_probabilities(ids[:, None], slot_epochs[None, :]).response
    if mask_fn is None:
        mask_fn, mask_name = gate_mask(settings)
    else:
        mask_name = "custom"
    mask = (
        np.stack([mask_fn(lead, slots_np) for lead in sims])
        if sims
        else np.zeros((0, len(slots)), bool)
    )
    local_hour = (
        np.stack([slots.tz_convert(z).hour for z in zones])
        if sims
        else np.zeros((0, len(slots)), int)
    )
    rng = np.random.default_rng([config.seed, 4])
    picks = _choices(rng, mask, scores, truth, np.asarray(local_hour))
    ok = picks["model"] >= 0
    u = rng.random(len(ids))
    rates: dict[str, float] = {}
    realised: dict[str, float] = {}
    rows_ok = np.nonzero(ok)[0]
    violations = 0
    checker = world.checker
    for name, pick in picks.items():
        p = truth[rows_ok, pick[rows_ok]]
        rates[name] = float(p.mean()) if len(p) else 0.0
        realised[name] = float((u[rows_ok] < p).mean()) if len(p) else 0.0
        status = checker.time_status(
            pop.area_idx[ids[rows_ok]], pop.cand_zones[ids[rows_ok]], slot_epochs[pick[rows_ok]]
        )
        violations += int((status != OK).sum()) + int((~pop.consent[ids[rows_ok]]).sum())
    li, si = np.nonzero(mask)
    all_status = checker.time_status(
        pop.area_idx[ids[li]], pop.cand_zones[ids[li]], slot_epochs[si]
    )
    allowed_violations = int((all_status != OK).sum()) + int((~pop.consent[ids[li]]).sum())
    a, c, d = rates["fixed_10am"], rates["model"], rates["oracle"]
    return SendTimeEval(
        seed=config.seed,
        leads=len(ids),
        evaluated=int(ok.sum()),
        held=int((~ok).sum()),
        rates=rates,
        realised=realised,
        lift_model_over_fixed=c / a - 1.0 if a > 0 else float("nan"),
        oracle_share_captured=(c - a) / (d - a) if d > a else float("nan"),
        violations=violations,
        violations_allowed_slots=allowed_violations,
        mask=mask_name,
        train_rows=len(rows.label),
        train_positives=int(rows.label.sum()),
        holdout_roc_auc=fit.metrics["holdout_roc_auc"],
        priors_roc_auc=fit.metrics["priors_roc_auc"],
        model_version=model.version,
        seconds=round(time.perf_counter() - started, 2),
    )

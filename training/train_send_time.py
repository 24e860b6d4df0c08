"""Train the send-time model from the store: logged marketing sends -> response within the window.

One row per ``sent`` event with ``marketing=true`` whose attribution window has closed by ``now``;
label 1 when the lead replied or clicked after it, within ``Settings.attribution_hours`` and
before the next text. Features are the lead's state strictly before the send (see
optimizer/models/send_time_features.py) and the send's local slot. Time-ordered split: the last
20 % of sends are the holdout (AUC against the vertical priors' AUC on the same rows), the last
15 % of the rest stop the boosting early. MLflow: params, metrics, lift curve, hour x weekday heat
map; the model is registered as ``challenger`` of ``send-time``; validation against the champion
(and the priors as baseline) is recorded, and ``promote=True`` moves ``champion`` when better.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import matplotlib
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.metrics import log_loss, roc_auc_score
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.models.engine import Engine, LocalEngine, fit_booster
from optimizer.models.pyfunc import (
    SEND_TIME_CODE,
    SEND_TIME_REQUIREMENTS,
    code_paths,
    pinned,
    send_time_output,
)
from optimizer.models.registry import (
    ValidationRecord,
    client_for,
    load_champion,
    promote,
    record_validation,
    register_model,
)
from optimizer.models.send_time import ARTIFACT_KEY, SendTimeModel, SendTimePriors
from optimizer.models.send_time_features import (
    SLOT_FEATURES,
    fit_components,
    hour_counts,
    lead_frame,
    local_hour_weekday,
)
from optimizer.models.send_time_store import store_frames
from optimizer.models.slot_matrix import slot_matrix
from optimizer.settings import Settings
from training.train_lead_score import ensure_experiment

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

RESPONSE_TYPES = ("reply", "click")
MONOTONE = {
    "prior": 1,
    "share_hour": 1,
    "share_hour_daytype": 1,
    "count_hour": 1,
    "daypart_share": 1,
    "part_share": 1,
    "window_share": 1,
    "persona_share": 1,
}
MIN_ROWS, MIN_POSITIVE = 200, 20


@dataclass(frozen=True)
class SendRows:
    features: pd.DataFrame  # lead columns as of each send
    hour: np.ndarray
    weekday: np.ndarray
    label: np.ndarray
    sent_at: np.ndarray  # datetime64[ns] UTC
    lead_id: np.ndarray


@dataclass(frozen=True)
class FitResult:
    model: SendTimeModel
    metrics: dict[str, float]
    lift: tuple[tuple[float, float], ...]  # (decile, response rate) on the holdout
    holdout_pred: np.ndarray
    holdout_label: np.ndarray
    holdout_rows: SendRows


@dataclass(frozen=True)
class TrainResult:
    run_id: str | None
    version: str | None
    promoted: bool
    promotion_reason: str
    rows: int
    positives: int
    metrics: dict[str, float]
    seconds: float


def load_frames(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads indexed by id with vertical, source, timezone; events) from the store."""
    return store_frames(session)


def send_rows(
    leads: pd.DataFrame, events: pd.DataFrame, *, attribution_hours: int, now: dt.datetime
) -> SendRows:
    window = pd.Timedelta(hours=attribution_hours)
    stamp = pd.Timestamp(now).tz_convert("UTC")
    kind = events["type"].astype(str)
    sends = events.loc[
        (kind == "sent") & events["marketing"].astype(bool), ["lead_id", "occurred_at"]
    ]
    sends = sends.sort_values(["lead_id", "occurred_at"], kind="stable")
    next_send = sends.groupby("lead_id")["occurred_at"].shift(-1)
    sends = sends.assign(
        until=np.minimum(
            sends["occurred_at"] + window, next_send.fillna(sends["occurred_at"] + window)
        )
    )
    sends = sends.loc[sends["occurred_at"] + window <= stamp]
    sends = sends.loc[sends["lead_id"].isin(leads.index)].sort_values("occurred_at", kind="stable")
    responses = events.loc[kind.isin(RESPONSE_TYPES), ["lead_id", "occurred_at"]]
    joined = pd.merge_asof(
        sends.reset_index(drop=True),
        responses.rename(columns={"occurred_at": "responded_at"}).sort_values("responded_at"),
        left_on="occurred_at",
        right_on="responded_at",
        by="lead_id",
        direction="forward",
        allow_exact_matches=False,
    )
    label = (
        joined["responded_at"].notna() & (joined["responded_at"] <= joined["until"])
    ).to_numpy()
    lead_ids = joined["lead_id"].to_numpy(dtype=np.int64)
    sent_at = joined["occurred_at"]
    features = lead_frame(leads, events, rows_lead=lead_ids, rows_at=sent_at.to_numpy())
    hour, weekday = local_hour_weekday(sent_at, leads["timezone"].reindex(lead_ids).to_numpy())
    return SendRows(
        features=features,
        hour=hour,
        weekday=weekday,
        label=label.astype(np.int64),
        sent_at=sent_at.to_numpy(dtype="datetime64[ns]"),
        lead_id=lead_ids,
    )


def _subset(rows: SendRows, sel: np.ndarray) -> SendRows:
    return SendRows(
        features=rows.features.iloc[sel].reset_index(drop=True),
        hour=rows.hour[sel],
        weekday=rows.weekday[sel],
        label=rows.label[sel],
        sent_at=rows.sent_at[sel],
        lead_id=rows.lead_id[sel],
    )


def fit_send_time(
    rows: SendRows,
    *,
    seed: int = 0,
    priors: SendTimePriors | None = None,
    version: str = "unregistered",
    engine: Engine | None = None,
) -> FitResult:
    """Fit on the first 80 % of sends in time, evaluate on the last 20 %."""
    n, positives = len(rows.label), int(rows.label.sum())
    if n < MIN_ROWS or positives < MIN_POSITIVE:
        raise InvalidInput(
            f"{n} logged marketing sends with {positives} responses are too few to train the "
            f"send-time model (at least {MIN_ROWS} sends and {MIN_POSITIVE} responses expected)"
        )
    priors = priors or SendTimePriors()
    verticals = tuple(sorted({str(v) for v in rows.features["vertical"]}))
    sources = tuple(sorted({str(v) for v in rows.features["source"]}))
    shell = SendTimeModel(None, priors=priors, verticals=verticals, sources=sources)
    order = np.argsort(rows.sent_at, kind="stable")
    cut = int(n * 0.8)
    components = fit_components(hour_counts(rows.features.iloc[order[:cut]]), seed=seed)
    matrix = slot_matrix(
        rows.features,
        rows.hour[:, None],
        rows.weekday[:, None],
        prior_table=shell._prior_table,
        verticals=verticals,
        sources=sources,
        components=components,
    )
    train_idx, test_idx = order[:cut], order[cut:]
    inner = int(len(train_idx) * 0.85)
    fit_idx, stop_idx = train_idx[:inner], train_idx[inner:]
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 40,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "monotone_constraints": [MONOTONE.get(f, 0) for f in SLOT_FEATURES],
        "seed": seed,
        "verbose": -1,
        "num_threads": 2,
    }
    categorical = [SLOT_FEATURES.index("vertical_code"), SLOT_FEATURES.index("source_code")]
    fit = fit_booster(
        engine or LocalEngine(),
        params,
        (matrix[fit_idx], rows.label[fit_idx]),
        (matrix[stop_idx], rows.label[stop_idx]),
        rounds=400,
        early_stopping_rounds=40,
        feature_name=list(SLOT_FEATURES),
        categorical=categorical,
    )
    # The trees up to the lowest validation loss (what early stopping keeps; on Dask, where
    # LightGBM has no early stopping, the same choice made from the whole curve).
    best = int(np.argmin(fit.valid_loss)) + 1
    booster = lgb.Booster(model_str=fit.booster.model_to_string(num_iteration=best))
    model = SendTimeModel(
        booster,
        priors=priors,
        verticals=verticals,
        sources=sources,
        version=version,
        components=components,
    )
    pred = np.asarray(booster.predict(matrix[test_idx]))
    y = rows.label[test_idx]
    prior_pred = matrix[test_idx, SLOT_FEATURES.index("prior")]
    both = len(np.unique(y)) == 2
    metrics = {
        "holdout_roc_auc": float(roc_auc_score(y, pred)) if both else float("nan"),
        "priors_roc_auc": float(roc_auc_score(y, prior_pred)) if both else float("nan"),
        "holdout_log_loss": float(log_loss(y, np.clip(pred, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "holdout_response_rate": float(y.mean()),
        "train_rows": float(len(fit_idx)),
        "holdout_rows": float(len(test_idx)),
        "best_iteration": float(best),
    }
    lift = _lift(pred, y)
    metrics["holdout_top_decile_lift"] = (
        lift[0][1] / max(float(y.mean()), 1e-12) if lift else float("nan")
    )
    model.metrics.update(metrics)
    return FitResult(model, metrics, lift, pred, y, _subset(rows, test_idx))


def send_time_example(rows: SendRows, leads: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The pyfunc's input for the first ``n`` of ``rows``: their lead columns, the send time
    (``slot_utc``, naive UTC: MLflow's signatures take naive datetimes) and the lead's zone."""
    head = rows.features.head(n).reset_index(drop=True)
    zones = leads["timezone"].reindex(rows.lead_id[:n]).astype("str").to_numpy()
    return head.assign(
        slot_utc=pd.to_datetime(rows.sent_at[:n]).as_unit("ns"),
        time_zone=pd.array(zones, dtype="str"),
    )


def _lift(pred: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Response rate by decile of predicted probability (top decile first)."""
    if len(y) < 10:
        return ()
    order = np.argsort(-pred, kind="stable")
    return tuple(
        (float(d + 1), float(chunk.mean())) for d, chunk in enumerate(np.array_split(y[order], 10))
    )


def heat_map(model: SendTimeModel, rows: SendRows, sample: int = 500) -> np.ndarray:
    """(7, 24) mean predicted response by local weekday x hour over some holdout leads."""
    feats = rows.features.iloc[:sample].reset_index(drop=True)
    hours = np.tile(np.arange(24), 7)
    days = np.repeat(np.arange(7), 24)
    n = len(feats)
    matrix = slot_matrix(
        feats,
        np.broadcast_to(hours, (n, 168)),
        np.broadcast_to(days, (n, 168)),
        prior_table=model._prior_table,
        verticals=model.verticals,
        sources=model.sources,
        components=model.components,
    )
    assert model.booster is not None
    pred = np.asarray(model.booster.predict(matrix)).reshape(n, 168)
    return pred.mean(axis=0).reshape(7, 24)


def _figures(fit: FitResult) -> tuple[plt.Figure, plt.Figure]:
    lift_fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([d for d, _ in fit.lift], [r for _, r in fit.lift])
    ax.axhline(float(fit.holdout_label.mean()), color="k", linestyle="--", label="average")
    ax.set(
        xlabel="decile of predicted response (1 = highest)",
        ylabel="response rate",
        title="Send-time lift (holdout)",
    )
    ax.legend()
    heat = heat_map(fit.model, fit.holdout_rows)
    heat_fig, ax2 = plt.subplots(figsize=(9, 3.5))
    image = ax2.imshow(heat, aspect="auto", cmap="viridis")
    ax2.set(
        yticks=range(7),
        yticklabels=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        xlabel="local hour",
        title="Predicted response by local hour x weekday",
    )
    heat_fig.colorbar(image)
    return lift_fig, heat_fig


def _champion_auc(settings: Settings, name: str, fit: FitResult) -> tuple[str | None, float | None]:
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_champion(name, tracking_uri=settings.resolved_mlflow_uri(), dst_dir=Path(tmp))
        if loaded is None:
            return None, None
        try:
            champion = SendTimeModel.from_dir(loaded.local_dir, version=loaded.version)
        except InvalidInput:
            return loaded.version, float("nan")
    rows = fit.holdout_rows
    if champion.booster is None or len(np.unique(rows.label)) < 2:
        return loaded.version, float("nan")
    matrix = slot_matrix(
        rows.features,
        rows.hour[:, None],
        rows.weekday[:, None],
        prior_table=champion._prior_table,
        verticals=champion.verticals,
        sources=champion.sources,
        components=champion.components,
    )
    return loaded.version, float(roc_auc_score(rows.label, champion.booster.predict(matrix)))


def train_send_time(
    session: Session,
    settings: Settings,
    *,
    now: dt.datetime,
    seed: int = 0,
    register: bool = True,
    promote_if_better: bool = False,
    engine: Engine | None = None,
) -> TrainResult:
    """Train from the store, log to MLflow, register ``challenger``, optionally promote."""
    started = time.perf_counter()
    name = settings.send_time_model_name
    leads, events = load_frames(session)
    rows = send_rows(leads, events, attribution_hours=settings.attribution_hours, now=now)
    fit = fit_send_time(rows, seed=seed, engine=engine)
    experiment_id = ensure_experiment(settings, name)
    version: str | None = None
    promoted, reason = False, "not registered"
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{name}:{now.date().isoformat()}"
    ) as run:
        mlflow.set_tags({"model": name})
        mlflow.log_params(
            {
                "rows": len(rows.label),
                "positives": int(rows.label.sum()),
                "seed": seed,
                "attribution_hours": settings.attribution_hours,
                "features": len(SLOT_FEATURES),
                "now": now.isoformat(),
                "priors": str(fit.model.priors.to_json())[:500],
                **(engine or LocalEngine()).describe(),
            }
        )
        mlflow.log_metrics({k: v for k, v in fit.metrics.items() if np.isfinite(v)})
        for decile, rate in fit.lift:
            mlflow.log_metric("holdout_lift_response_rate", rate, step=int(decile))
        lift_fig, heat_fig = _figures(fit)
        mlflow.log_figure(lift_fig, "plots/lift.png")
        mlflow.log_figure(heat_fig, "plots/heat_map_hour_weekday.png")
        plt.close(lift_fig)
        plt.close(heat_fig)
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = Path(tmp) / "send_time_model"
            fit.model.save(model_dir)
            example = send_time_example(fit.holdout_rows, leads)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(SEND_TIME_CODE),
                artifacts={ARTIFACT_KEY: str(model_dir)},
                code_paths=code_paths(),
                signature=infer_signature(example, send_time_output(fit.model, example)),
                input_example=example,
                pip_requirements=pinned(SEND_TIME_REQUIREMENTS),
            )
        if register:
            client = client_for(settings.resolved_mlflow_uri())
            champion_version, champion_auc = _champion_auc(settings, name, fit)
            version = register_model(
                run.info.run_id,
                info.model_uri,
                name,
                client=client,
                tags={
                    "holdout_roc_auc": f"{fit.metrics['holdout_roc_auc']:.6f}",
                    "priors_roc_auc": f"{fit.metrics['priors_roc_auc']:.6f}",
                },
            )
            record_validation(
                name,
                ValidationRecord(
                    metric="roc_auc",
                    challenger_version=version,
                    challenger=fit.metrics["holdout_roc_auc"],
                    champion_version=champion_version,
                    champion=champion_auc,
                    baseline=fit.metrics["priors_roc_auc"],
                    comparable=champion_auc is not None and bool(np.isfinite(champion_auc)),
                ),
                client=client,
            )
            reason = "registered as challenger"
            if promote_if_better:
                decision = promote(
                    name, client=client, margin=settings.promote_margin, metric="roc_auc"
                )
                promoted, reason = decision.promoted, decision.reason
            mlflow.set_tag("registered_version", version)
    return TrainResult(
        run_id=run.info.run_id,
        version=version,
        promoted=promoted,
        promotion_reason=reason,
        rows=len(rows.label),
        positives=int(rows.label.sum()),
        metrics=fit.metrics,
        seconds=round(time.perf_counter() - started, 2),
    )

"""The trained lead score against the points baseline on the demo world, one row per seed.

    .venv/bin/python -m experiments.lead_score_small --seeds 1 2 3 4 5 [--leads 2000 --days 20]
        [--work-dir DIR] [--cache DIR] [--in-process]

For each seed: the demo's store (``optimizer demo``'s first step, :func:`write_store`: the
world's history and DNC copies, same defaults as the demo: 500 leads over 10 days), then the
demo's lead-score steps: training rows from the store, ``train_lead_score`` (MLflow run,
``challenger``), ``validate_lead_score`` (challenger and points baseline on the challenger's
holdout) and ``promote``. ``--in-process`` skips MLflow and computes the same holdout comparison
in this process (the holdout split, the fit and the predictions of ``train_lead_score``; the
points baseline as ``validate`` scores it: raw points). ``--cache DIR`` keeps each seed's
training rows as parquet and reuses them (delete it after changing the features or the world).

Prints one line per seed, then the count of seeds where the challenger is below the baseline,
then a JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.demo.runner import MARKER, DemoOptions, check_var_dir, demo_settings, write_store
from optimizer.models.metrics import binary_metrics
from optimizer.models.points import points_inputs, points_score
from optimizer.models.registry import client_for, promote
from optimizer.store.db import make_engine, session_factory, transaction
from training.datasets import TrainingData

LABEL = "__label__"


def _cached(cache: Path | None, key: str) -> TrainingData | None:
    if cache is None or not (cache / f"{key}.parquet").exists():
        return None
    frame = pd.read_parquet(cache / f"{key}.parquet")
    meta = json.loads((cache / f"{key}.json").read_text())
    y = frame.pop(LABEL).to_numpy(dtype=np.int64)
    meta["warnings"] = tuple(meta["warnings"])
    return TrainingData(frame=frame, y=y, **meta)


def _store(cache: Path | None, key: str, data: TrainingData) -> None:
    if cache is None:
        return
    cache.mkdir(parents=True, exist_ok=True)
    data.frame.assign(**{LABEL: data.y}).to_parquet(cache / f"{key}.parquet")
    meta = {k: v for k, v in asdict(data).items() if k not in ("frame", "y")}
    meta["warnings"] = list(meta["warnings"])
    (cache / f"{key}.json").write_text(json.dumps(meta))


def training_rows(options: DemoOptions, cache: Path | None) -> TrainingData:
    """The demo store's lead-score training rows for ``options`` (built, or from the cache)."""
    from training.store_data import store_training_data

    key = f"leads{options.leads}-days{options.days}-seed{options.seed}"
    found = _cached(cache, key)
    if found is not None:
        return found
    settings = demo_settings(options.var_dir)
    write_store(options, settings, say=lambda _: None)
    engine = make_engine(settings.resolved_database_url())
    with transaction(session_factory(engine)) as session:
        data = store_training_data(
            session, horizon_days=settings.conversion_horizon_days, now=options.start
        )
    engine.dispose()
    _store(cache, key, data)
    return data


def demo_path(data: TrainingData, options: DemoOptions) -> dict[str, object]:
    """The demo's steps after the store: train, validate, promote (MLflow under var_dir)."""
    from training.train_lead_score import train_lead_score
    from training.validate import validate_lead_score

    settings = demo_settings(options.var_dir)
    outcome = train_lead_score(data, settings=settings)
    report = validate_lead_score(settings)
    decision = promote(
        settings.lead_score_model_name,
        client=client_for(settings.resolved_mlflow_uri()),
        margin=settings.promote_margin,
        metric="roc_auc",
    )
    return {
        "holdout_rows": report.rows,
        "holdout_positives": report.points.positives,
        "challenger": report.challenger.roc_auc,
        "points": report.points.roc_auc,
        "promoted": decision.promoted,
        "trees": outcome.best_iteration,
    }


def in_process(data: TrainingData) -> dict[str, object]:
    """The holdout comparison of ``train_lead_score`` + ``validate`` without MLflow."""
    from optimizer.models.lead_score import TrainConfig
    from training.evaluate import TEST_FRACTION, fit_fold, predict_fold, split_rows

    config = TrainConfig()
    fit_rows, test_rows = split_rows(
        data.y, fraction=TEST_FRACTION, time_ordered=data.time_ordered, seed=config.seed
    )
    models = fit_fold(
        data.frame.iloc[fit_rows],
        data.y[fit_rows],
        feature_source=data.feature_source,
        time_ordered_inner=data.time_ordered,
        config=config,
    )
    test = data.frame.iloc[test_rows]
    y = data.y[test_rows]
    preds = predict_fold(models, test, y)
    return {
        "holdout_rows": len(y),
        "holdout_positives": int(y.sum()),
        "challenger": binary_metrics(y, preds.model).roc_auc,
        "points": binary_metrics(y, points_score(points_inputs(test)) / 100.0).roc_auc,
        "promoted": None,
        "trees": models.fit.model.best_iteration,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--leads", type=int, default=DemoOptions.leads)
    parser.add_argument("--days", type=int, default=DemoOptions.days)
    parser.add_argument("--work-dir", type=Path, default=None, help="stores go here (default: tmp)")
    parser.add_argument("--cache", type=Path, default=None, help="reuse training rows from here")
    parser.add_argument("--in-process", action="store_true", help="no MLflow (same figures)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        for seed in args.seeds:
            started = time.perf_counter()
            options = DemoOptions(
                var_dir=work / f"leads{args.leads}-days{args.days}-seed{seed}",
                leads=args.leads,
                days=args.days,
                seed=seed,
            )
            # A fresh demo directory each time (the store, or from the cache only MLflow's).
            check_var_dir(options.var_dir)
            shutil.rmtree(options.var_dir, ignore_errors=True)
            options.var_dir.mkdir(parents=True)
            (options.var_dir / MARKER).write_text("made by experiments.lead_score_small\n")
            data = training_rows(options, args.cache)
            result = in_process(data) if args.in_process else demo_path(data, options)
            row = {
                "seed": seed,
                "touches": data.rows,
                "conversions": int(data.y.sum()),
                **result,
                "seconds": round(time.perf_counter() - started, 1),
            }
            row["delta"] = float(row["challenger"]) - float(row["points"])  # type: ignore[arg-type]
            rows.append(row)
            print(
                f"seed {seed}: {row['touches']:,} touches ({row['conversions']} converted), "
                f"holdout {row['holdout_rows']} ({row['holdout_positives']} converted): "
                f"challenger {row['challenger']:.4f}, points {row['points']:.4f}, "
                f"delta {row['delta']:+.4f}, promoted {row['promoted']}, trees {row['trees']}, "
                f"{row['seconds']} s",
                flush=True,
            )
    below = [r["seed"] for r in rows if float(r["delta"]) < 0]  # type: ignore[arg-type]
    print(f"challenger below points on {len(below)} of {len(rows)} seeds: {below}")
    print(json.dumps({"leads": args.leads, "days": args.days, "rows": rows}))


if __name__ == "__main__":
    main()

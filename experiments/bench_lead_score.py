"""Benchmark the lead score: one tracked training run, pool scoring, one lead with explanations.

    .venv/bin/python -m experiments.bench_lead_score [--data PATH] [--skip-train]

Needs ../shared/data/bank-additional-full.csv.gz (or --data). Prints one figure per line and a
JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from optimizer.models.lead_score import TrainConfig
from optimizer.models.serving import LeadScorer
from optimizer.settings import Settings, get_settings
from training.datasets import load_csv
from training.evaluate import fit_fold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=get_settings().data_dir / "bank-additional-full.csv.gz"
    )
    parser.add_argument("--skip-train", action="store_true", help="skip the MLflow training run")
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=2_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    figures: dict[str, float] = {}
    data = load_csv(args.data, target="y", drop=["duration"], time_order=True)

    if not args.skip_train:
        from training.train_lead_score import train_lead_score

        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(var_dir=Path(tmp))
            started = time.perf_counter()
            outcome = train_lead_score(data, settings=settings)
            figures["train_run_seconds"] = time.perf_counter() - started
            figures["train_holdout_roc_auc"] = outcome.holdout.model.roc_auc
        print(
            f"training run (41,188 rows, holdout, calibration, plots, MLflow log + register): "
            f"{figures['train_run_seconds']:.1f} s"
        )

    models = fit_fold(
        data.frame,
        data.y,
        feature_source=data.feature_source,
        time_ordered_inner=True,
        config=TrainConfig(),
    )
    scorer = LeadScorer(models.fit.model, version="bench", feature_source=data.feature_source)
    figures["trees"] = float(models.fit.model.best_iteration)
    print(
        f"scoring model: {models.fit.model.best_iteration} trees, {len(models.spec.columns)} features"
    )
    rng = np.random.default_rng(0)
    pool = data.frame.iloc[rng.integers(0, data.rows, args.pool)].reset_index(drop=True)
    scorer.score(pool.head(1000))
    pool_times = []
    for _ in range(5):
        started = time.perf_counter()
        scores = scorer.score(pool)
        pool_times.append(time.perf_counter() - started)
    assert len(scores.probability) == args.pool
    figures["pool_rows_per_second"] = args.pool / statistics.median(pool_times)
    print(
        f"pool of {args.pool:,} leads (no explanations): median {statistics.median(pool_times):.3f} s"
        f" = {figures['pool_rows_per_second']:,.0f} rows/s"
    )
    started = time.perf_counter()
    explained = scorer.score(pool.head(10_000), explain=True)
    figures["pool_explained_rows_per_second"] = 10_000 / (time.perf_counter() - started)
    assert len(explained.reasons) == 10_000
    print(f"pool with top-3 reasons: {figures['pool_explained_rows_per_second']:,.0f} rows/s")

    records = pool.head(args.single).to_dict("records")
    single_times = []
    for record in records:
        started = time.perf_counter()
        scorer.score_one(record, explain=True)
        single_times.append(time.perf_counter() - started)
    figures["single_median_ms"] = 1000 * statistics.median(single_times)
    figures["single_p95_ms"] = 1000 * float(np.percentile(single_times, 95))
    print(
        f"one lead with explanations: median {figures['single_median_ms']:.3f} ms, "
        f"p95 {figures['single_p95_ms']:.3f} ms ({args.single} leads)"
    )
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}, sort_keys=True))


if __name__ == "__main__":
    main()

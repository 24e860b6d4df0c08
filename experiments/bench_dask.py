"""Lead score on the bank data: LightGBM in this process vs on a Dask ``LocalCluster``.

Same holdout split, features, calibration and cap on boosting rounds for both engines (LightGBM's
Dask interface has no early stopping, so it trains every round; the local engine stops early).
Prints the holdout ROC AUC, the best iteration and the fit time of each engine, and the time to
start the cluster.

    python -m experiments.bench_dask [--workers 2] [--max-rounds 500] [--data PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from optimizer.models.engine import Engine, open_engine
from optimizer.models.lead_score import TrainConfig
from training.datasets import TrainingData, load_csv
from training.evaluate import TEST_FRACTION, compare, fit_fold, predict_fold, split_rows

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "bank-additional-full.csv.gz"
)


def run(data: TrainingData, config: TrainConfig, engine: Engine) -> tuple[float, int, float]:
    """(holdout ROC AUC, best iteration, seconds) of one fit on the standard holdout split."""
    fit_rows, test_rows = split_rows(
        data.y, fraction=TEST_FRACTION, time_ordered=data.time_ordered, seed=config.seed
    )
    started = time.perf_counter()
    models = fit_fold(
        data.frame.iloc[fit_rows],
        data.y[fit_rows],
        feature_source=data.feature_source,
        time_ordered_inner=data.time_ordered,
        config=config,
        engine=engine,
    )
    seconds = time.perf_counter() - started
    preds = predict_fold(models, data.frame.iloc[test_rows], data.y[test_rows])
    auc = compare("holdout", 1, preds, models.points.mapping).model.roc_auc
    return auc, models.fit.model.best_iteration, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-rounds", type=int, default=500)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    data = load_csv(args.data, target="y", drop=["duration"])
    config = TrainConfig(max_rounds=args.max_rounds)
    rows = []
    with open_engine("local") as local:
        rows.append(("local (LGBMClassifier)", *run(data, config, local)))
    started = time.perf_counter()
    with open_engine("dask", workers=args.workers) as dask:
        startup = time.perf_counter() - started
        rows.append(
            (f"dask, {args.workers} workers (DaskLGBMClassifier)", *run(data, config, dask))
        )
    print(f"\nbank lead score, {data.rows} rows, at most {args.max_rounds} rounds")
    print(f"{'engine':<40}{'ROC AUC':>10}{'trees':>8}{'fit s':>9}")
    for name, auc, trees, seconds in rows:
        print(f"{name:<40}{auc:>10.4f}{trees:>8}{seconds:>9.1f}")
    print(f"Dask LocalCluster start-up: {startup:.1f} s")


if __name__ == "__main__":
    main()

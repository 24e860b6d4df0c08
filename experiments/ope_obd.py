"""Off-policy evaluation on the Open Bandit Dataset "men" sample, beside OBP's published figures.

Estimates the Bernoulli-TS policy's click rate from the log of the uniform-random policy
(``random-men.csv.gz``), the BTS action distribution computed by Monte Carlo from the men
campaign's Beta prior (``prior_bts.yaml``), and compares each estimator with BTS's on-policy click
rate (the mean click of ``bts-men.csv.gz``): |V̂ − V| / V, mean and standard deviation over
bootstrap samples of the Random log, the reward model cross-fitted on each (OBP's protocol in
``examples/obd``). OBP's published figures are for the "all" campaign (full-size data); ours
are on the 10,000-row men sample.

    python -m experiments.ope_obd [--runs 30] [--seed 12345] [--model-resamples N] [--data-dir DIR]

The data folder is ``$OPTIMIZER_DATA_DIR`` (default ``../shared/data`` beside the project).
Prints the table and, on the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from optimizer.cli.common import emit_json
from optimizer.errors import OptimizerError
from optimizer.ope.estimators import ESTIMATORS
from optimizer.ope.report import (
    OBP_PUBLISHED_ALL,
    LogEvaluationConfig,
    LogEvaluationReport,
    format_table,
    run_log_evaluation,
)
from optimizer.settings import get_settings


def run(
    data_dir: Path,
    *,
    runs: int,
    seed: int,
    n_sim: int,
    model: str = "logistic",
    folds: int = 3,
    resamples: int = 1000,
    model_resamples: int = 0,
) -> LogEvaluationReport:
    folder = data_dir / "obd-men"
    return run_log_evaluation(
        LogEvaluationConfig(
            log=folder / "random-men.csv.gz",
            policy="bts",
            prior=folder / "prior_bts.yaml",
            campaign="men",
            on_policy_log=folder / "bts-men.csv.gz",
            estimators=ESTIMATORS,
            model=model,
            folds=folds,
            seed=seed,
            resamples=resamples,
            model_resamples=model_resamples,
            runs=runs,
            n_sim=n_sim,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--n-sim", type=int, default=1_000_000)
    parser.add_argument("--model", default="logistic")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--model-resamples", type=int, default=0)
    args = parser.parse_args(argv)
    data_dir = args.data_dir or get_settings().data_dir
    try:
        report = run(
            data_dir,
            runs=args.runs,
            seed=args.seed,
            n_sim=args.n_sim,
            model=args.model,
            folds=args.folds,
            resamples=args.resamples,
            model_resamples=args.model_resamples,
        )
    except OptimizerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print("BTS click rate estimated from the Random log, OBD men sample")
    for line in format_table(report, published=OBP_PUBLISHED_ALL):
        print(line)
    print("OBP (all): Open Bandit Pipeline's published mean relative error, 'all' campaign")
    payload = report.to_dict()
    payload["obp_published_all"] = OBP_PUBLISHED_ALL
    emit_json(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())

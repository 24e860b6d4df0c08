"""Where LightGBM trains: in this process or on a Dask cluster, through one code path.

:func:`fit_booster` builds the same estimator either way, from LightGBM's scikit-learn interface:
``lightgbm.LGBMClassifier`` (:class:`LocalEngine`) or ``lightgbm.dask.DaskLGBMClassifier``
(:class:`DaskEngine`, data-parallel over the cluster's workers: the training rows become a Dask
array of one partition per worker). What it returns is a local ``lightgbm.Booster`` (a Dask
model is converted with ``to_local()``) and the validation log loss after each tree, from which
the caller picks the number of trees; calibration, logging and serving then read the local
booster and never know where it was trained.

One difference, LightGBM's and not ours: its Dask interface has no early stopping (and scores an
``eval_set`` on each worker's own rows only), so on Dask every round of ``rounds`` is trained and
the validation curve is computed here, on every validation row, from the local booster.

Dask is an optional extra (``pip install 'sms-send-optimizer[dask]'``); it is imported only when
a :class:`DaskEngine` is made.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np

from optimizer.errors import InvalidInput

ENGINES = ("local", "dask")
# Native LightGBM names -> the scikit-learn estimator's own argument names (passing the native
# names beside the estimator's defaults makes LightGBM warn about the alias it ignores).
_SKLEARN_NAMES = {
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "feature_fraction": "colsample_bytree",
    "lambda_l2": "reg_lambda",
    "lambda_l1": "reg_alpha",
    "min_data_in_leaf": "min_child_samples",
    "seed": "random_state",
    "num_threads": "n_jobs",
    "verbose": "verbosity",
}
_DASK_IGNORED = ("n_jobs",)  # Dask sets the threads of each worker itself
_EPS = 1e-15


@dataclass(frozen=True)
class BoosterFit:
    booster: lgb.Booster
    valid_loss: tuple[float, ...]  # validation binary log loss after tree 1, 2, ...
    engine: str
    workers: int
    seconds: float


class Engine(Protocol):
    name: str
    workers: int
    early_stopping: bool

    def classifier(self, params: Mapping[str, Any]) -> lgb.LGBMClassifier: ...

    def collection(self, values: np.ndarray) -> Any: ...

    def local(self, estimator: lgb.LGBMClassifier) -> lgb.LGBMClassifier: ...

    def describe(self) -> dict[str, str]: ...


@dataclass
class LocalEngine:
    """``lightgbm.LGBMClassifier`` in this process."""

    name: str = "local"
    workers: int = 1
    early_stopping: bool = True

    def classifier(self, params: Mapping[str, Any]) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(**params)

    def collection(self, values: np.ndarray) -> Any:
        return values

    def local(self, estimator: lgb.LGBMClassifier) -> lgb.LGBMClassifier:
        return estimator

    def describe(self) -> dict[str, str]:
        return {"engine": self.name}


@dataclass
class DaskEngine:
    """``lightgbm.dask.DaskLGBMClassifier`` on the cluster of ``client`` (a
    ``distributed.Client``), one partition of the training rows per worker."""

    client: Any
    workers: int
    scheduler: str
    name: str = "dask"
    early_stopping: bool = False
    # LightGBM's socket time-out between workers, in minutes (its default is 120).
    time_out_minutes: int = 10
    extra: dict[str, Any] = field(default_factory=dict)

    def classifier(self, params: Mapping[str, Any]) -> lgb.LGBMClassifier:
        from lightgbm.dask import DaskLGBMClassifier

        kept = {k: v for k, v in params.items() if k not in _DASK_IGNORED}
        return DaskLGBMClassifier(
            client=self.client, time_out=self.time_out_minutes, **kept, **self.extra
        )

    def collection(self, values: np.ndarray) -> Any:
        import dask.array as da

        # One part per worker, sent to the workers first (putting the array itself in the task
        # graph makes Dask warn about a large graph and ship it through the scheduler).
        # Part i always goes to the i-th worker (by address), rows and labels alike: LightGBM
        # ranks its machines by the parts they hold, and a model trained with part 0 on the
        # other machine is another model (bagging draws per machine).
        parts = np.array_split(np.ascontiguousarray(values), self.workers)
        addresses = sorted(self.client.nthreads())[: self.workers]
        futures = [
            self.client.scatter(part, workers=[addresses[i % len(addresses)]])
            for i, part in enumerate(parts)
        ]
        return da.concatenate(
            [
                da.from_delayed(future, shape=part.shape, dtype=part.dtype)
                for future, part in zip(futures, parts, strict=True)
            ]
        )

    def local(self, estimator: lgb.LGBMClassifier) -> lgb.LGBMClassifier:
        return estimator.to_local()  # type: ignore[attr-defined]

    def describe(self) -> dict[str, str]:
        return {
            "engine": self.name,
            "dask.workers": str(self.workers),
            "dask.scheduler": self.scheduler,
        }


def estimator_params(params: Mapping[str, Any], rounds: int) -> dict[str, Any]:
    """LightGBM's native ``params`` (as ``lgb.train`` takes them) as estimator arguments."""
    out: dict[str, Any] = {"n_estimators": rounds}
    for key, value in params.items():
        out[_SKLEARN_NAMES.get(key, key)] = value
    return out


def fit_booster(
    engine: Engine,
    params: Mapping[str, Any],
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    *,
    rounds: int,
    early_stopping_rounds: int,
    feature_name: Sequence[str],
    categorical: Sequence[int],
    weight: np.ndarray | None = None,
    init_score: np.ndarray | None = None,
    valid_init_score: np.ndarray | None = None,
) -> BoosterFit:
    """Train on ``train`` (rows weighted by ``weight`` when given, starting from the log-odds
    ``init_score`` when given) with ``engine``; the validation loss curve is on every ``valid``
    row, unweighted, from ``valid_init_score`` (the booster's own trees hold no initial score:
    a prediction adds it back)."""
    started = time.perf_counter()
    estimator = engine.classifier(estimator_params(params, rounds))
    x, y = train
    fit_args: dict[str, Any] = {
        "feature_name": list(feature_name),
        "categorical_feature": list(categorical),
    }
    if weight is not None:
        fit_args["sample_weight"] = engine.collection(np.asarray(weight, dtype=np.float64))
    if init_score is not None:
        fit_args["init_score"] = engine.collection(np.asarray(init_score, dtype=np.float64))
    if engine.early_stopping:
        fit_args["eval_X"], fit_args["eval_y"] = (valid[0],), (valid[1],)
        if valid_init_score is not None:
            fit_args["eval_init_score"] = [np.asarray(valid_init_score, dtype=np.float64)]
        fit_args["callbacks"] = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    with warnings.catch_warnings():
        # The Dask interface warns that it sets the threads itself even when none were given
        # (the estimator always has an ``n_jobs``); nothing else is silenced.
        warnings.filterwarnings("ignore", message=r"Parameter n_jobs will be ignored")
        estimator.fit(engine.collection(x), engine.collection(y), **fit_args)
    booster = engine.local(estimator).booster_
    if engine.early_stopping:
        curve = tuple(float(v) for v in estimator.evals_result_["valid_0"]["binary_logloss"])
    else:
        curve = staged_log_loss(booster, *valid, init_score=valid_init_score)
    return BoosterFit(
        booster=booster,
        valid_loss=curve,
        engine=engine.name,
        workers=engine.workers,
        seconds=time.perf_counter() - started,
    )


def staged_log_loss(
    booster: lgb.Booster, x: np.ndarray, y: np.ndarray, *, init_score: np.ndarray | None = None
) -> tuple[float, ...]:
    """Binary log loss of the first 1, 2, ... trees on (x, y), from one leaf-index prediction
    (each tree's leaf values summed cumulatively: the raw score after that many trees, added to
    ``init_score`` when given)."""
    leaves = np.asarray(booster.predict(x, pred_leaf=True), dtype=np.int64)
    if leaves.ndim == 1:
        leaves = leaves[:, None]
    raw = np.zeros(len(x)) if init_score is None else np.array(init_score, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = []
    for tree in range(leaves.shape[1]):
        column = leaves[:, tree]
        ids = np.unique(column)
        values = np.array([booster.get_leaf_output(tree, int(i)) for i in ids])
        raw += values[np.searchsorted(ids, column)]
        p = np.clip(1.0 / (1.0 + np.exp(-raw)), _EPS, 1 - _EPS)
        out.append(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))
    return tuple(out)


def check_engine(name: str, *, scheduler: str | None, workers: int | None) -> None:
    """Refuse an engine name or Dask option that cannot work (before any data is read)."""
    if name not in ENGINES:
        raise InvalidInput(f"--engine {name!r} is not one of {', '.join(ENGINES)}")
    if name == "local" and (scheduler is not None or workers is not None):
        raise InvalidInput("--scheduler and --dask-workers apply to --engine dask only")
    if workers is not None and workers < 1:
        raise InvalidInput(f"--dask-workers {workers}: at least 1 expected")
    if scheduler is not None and "://" not in scheduler:
        raise InvalidInput(f"--scheduler {scheduler!r}: an address like tcp://HOST:PORT expected")


@contextmanager
def open_engine(
    name: str = "local", *, scheduler: str | None = None, workers: int | None = None
) -> Iterator[Engine]:
    """The engine called ``name``: ``local``, or ``dask`` on the cluster at ``scheduler``
    (``tcp://HOST:PORT``) or, without one, on a ``distributed.LocalCluster`` of ``workers``
    single-threaded worker processes on loopback, closed on exit."""
    check_engine(name, scheduler=scheduler, workers=workers)
    if name == "local":
        yield LocalEngine()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the extra is installed by `make setup`
        raise InvalidInput(
            "--engine dask needs Dask: pip install 'sms-send-optimizer[dask]'"
        ) from exc
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise InvalidInput(
                f"--scheduler {scheduler!r}: no Dask scheduler answers ({exc})"
            ) from exc
        try:
            found = len(client.nthreads())
            if workers is not None and found < workers:
                client.wait_for_workers(workers, timeout=60)
                found = workers
            if found < 1:
                raise InvalidInput(f"--scheduler {scheduler!r} has no workers")
            yield DaskEngine(client=client, workers=workers or found, scheduler=scheduler)
        finally:
            client.close()
        return
    count = workers or 2
    with (
        LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskEngine(client=client, workers=count, scheduler=str(cluster.scheduler_address))

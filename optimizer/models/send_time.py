"""The send-time model: P(response within the attribution window | lead, local hour-of-week slot).

Serving: :meth:`SendTimeModel.load` gives the ``send-time`` champion, or the configurable
cold-start priors by vertical when there is none (``version`` says which);
:meth:`SendTimeModel.score_slots` scores every (lead, slot) of a pool in one call;
:func:`choose_slot` picks the best allowed slot with a small logged exploration.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput
from optimizer.models.registry import load_champion
from optimizer.models.send_time_features import SLOT_FEATURES, LeadRows
from optimizer.models.slot_matrix import slot_matrix
from optimizer.models.slot_pool import SlotPool, as_ns, local_slots
from optimizer.settings import Settings

PRIORS_VERSION = "send-time:priors"
MODEL_FILE = "send_time.lgb.txt"
META_FILE = "send_time.meta.json"
ARTIFACT_KEY = "send_time"  # the pyfunc's artifact (optimizer.models.pyfunc.SendTimePyfunc)


@dataclass(frozen=True)
class PriorWindow:
    """Local hours [start, end) on the given weekdays (Monday = 0)."""

    days: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True)
class SendTimePriors:
    """Cold-start response priors by vertical (the seed material's windows), configurable."""

    base_rate: float = 0.04
    window_factor: float = 2.0
    night_factor: float = 0.25  # before 08:00 or from 21:00 local
    windows: dict[str, tuple[PriorWindow, ...]] = field(
        default_factory=lambda: {
            "healthcare": (
                PriorWindow((0, 1, 2, 3, 4), 10, 12),
                PriorWindow((0, 1, 2, 3, 4), 14, 16),
            ),
            "retail": (PriorWindow((0, 1, 2, 3, 4, 5, 6), 18, 20),),
            "b2b": (PriorWindow((1, 2, 3), 9, 11),),
        }
    )
    default: tuple[PriorWindow, ...] = (PriorWindow((0, 1, 2, 3, 4), 10, 12),)

    def table(self, verticals: Sequence[str]) -> np.ndarray:
        """(len(verticals) + 1, 168) prior response by local hour-of-week (last row: other)."""
        out = np.full((len(verticals) + 1, 168), self.base_rate)
        for row, vertical in enumerate([*verticals, None]):
            windows = self.windows.get(vertical, self.default) if vertical else self.default
            for window in windows:
                for day in window.days:
                    out[row, day * 24 + window.start : day * 24 + window.end] *= self.window_factor
            for day in range(7):
                out[row, day * 24 : day * 24 + 8] *= self.night_factor
                out[row, day * 24 + 21 : day * 24 + 24] *= self.night_factor
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SendTimePriors:
        """From a dict such as ``to_json`` writes (e.g. a JSON file an operator edits)."""
        try:
            windows = {
                v: tuple(PriorWindow(tuple(w["days"]), int(w["start"]), int(w["end"])) for w in ws)
                for v, ws in data.get("windows", {}).items()
            }
            default = tuple(
                PriorWindow(tuple(w["days"]), int(w["start"]), int(w["end"]))
                for w in data.get("default", [{"days": [0, 1, 2, 3, 4], "start": 10, "end": 12}])
            )
            return cls(
                base_rate=float(data.get("base_rate", 0.04)),
                window_factor=float(data.get("window_factor", 2.0)),
                night_factor=float(data.get("night_factor", 0.25)),
                windows=windows,
                default=default,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"send-time priors {data!r} are malformed ({exc}; "
                "{windows: {vertical: [{days, start, end}]}} expected)"
            ) from exc


@dataclass(frozen=True)
class SlotChoice:
    index: int | None  # None: the mask allows no slot (the decision is ``hold``)
    propensity: float  # probability that this policy picks this slot
    probability: float  # predicted response probability at the slot
    explored: bool = False
    best: int | None = None  # the allowed slot with the highest predicted response


def choose_slot(
    rng: np.random.Generator, probs: np.ndarray, mask: np.ndarray, exploration: float = 0.05
) -> SlotChoice:
    """Best allowed slot; with probability ``exploration`` a uniformly random allowed one."""
    probs = np.asarray(probs, dtype=float).reshape(-1)
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    if probs.shape != mask.shape:
        raise InvalidInput(
            f"probs {probs.shape} and mask {mask.shape} differ (same length expected)"
        )
    if not 0.0 <= exploration <= 1.0:
        raise InvalidInput(f"exploration {exploration!r} is not a share (0..1 expected)")
    allowed = np.nonzero(mask)[0]
    if len(allowed) == 0:
        return SlotChoice(None, 0.0, 0.0)
    best = int(allowed[np.argmax(probs[allowed])])
    explored = bool(rng.random() < exploration)
    index = int(allowed[rng.integers(len(allowed))]) if explored else best
    propensity = exploration / len(allowed) + (1.0 - exploration) * (index == best)
    return SlotChoice(index, float(propensity), float(probs[index]), explored, best)


class SendTimeModel:
    """A LightGBM booster over slot features, or the priors alone (``booster is None``)."""

    def __init__(
        self,
        booster: lgb.Booster | None,
        *,
        priors: SendTimePriors | None = None,
        verticals: Sequence[str] = (),
        sources: Sequence[str] = (),
        version: str = PRIORS_VERSION,
        note: str | None = None,
        metrics: dict[str, float] | None = None,
        components: np.ndarray | None = None,
    ) -> None:
        self.booster = booster
        self.components = components  # learned engagement personas (k, 48), see features
        self.priors = priors or SendTimePriors()
        self.verticals = tuple(verticals) or ("healthcare", "retail", "b2b")
        self.sources = tuple(sources)
        self.version = version
        self.note = note
        self.metrics = dict(metrics or {})
        self._prior_table = self.priors.table(self.verticals)

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.booster is not None:
            self.booster.save_model(str(directory / MODEL_FILE))
        meta = {
            "features": list(SLOT_FEATURES),
            "verticals": list(self.verticals),
            "sources": list(self.sources),
            "priors": self.priors.to_json(),
            "metrics": self.metrics,
            "components": None if self.components is None else self.components.tolist(),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=1), "utf-8")

    @classmethod
    def from_dir(cls, directory: Path, *, version: str) -> SendTimeModel:
        meta_path = next(iter(sorted(directory.rglob(META_FILE))), None)
        if meta_path is None:
            raise InvalidInput(
                f"{directory} holds no {META_FILE} (a saved send-time model expected)"
            )
        meta = json.loads(meta_path.read_text("utf-8"))
        if list(meta["features"]) != list(SLOT_FEATURES):
            raise InvalidInput(
                f"{version} was trained on features {meta['features'][:3]}... that this code "
                "does not build (retrain the send-time model)"
            )
        model_path = meta_path.parent / MODEL_FILE
        booster = lgb.Booster(model_file=str(model_path)) if model_path.exists() else None
        return cls(
            booster,
            priors=SendTimePriors.from_json(meta["priors"]),
            verticals=meta["verticals"],
            sources=meta["sources"],
            version=version,
            metrics=meta.get("metrics"),
            components=None if meta.get("components") is None else np.array(meta["components"]),
        )

    @classmethod
    def load(
        cls, settings: Settings, *, name: str | None = None, dst_dir: Path | None = None
    ) -> SendTimeModel:
        """``models:/<name>@champion``, or the cold-start priors when there is none."""
        name = name or settings.send_time_model_name
        loaded = load_champion(name, tracking_uri=settings.resolved_mlflow_uri(), dst_dir=dst_dir)
        if loaded is None:
            return cls(None, note=f"model {name!r} has no champion: the vertical priors answer")
        try:
            return cls.from_dir(loaded.local_dir, version=f"{name}:{loaded.version}")
        except InvalidInput as exc:
            return cls(None, note=f"{exc.message}: the vertical priors answer")

    # --- scoring --------------------------------------------------------------------------
    def score_slots(
        self,
        lead_features: pd.DataFrame | LeadRows,
        slots_utc: np.ndarray | Sequence[dt.datetime],
        time_zone: str | Sequence[str] | np.ndarray,
    ) -> np.ndarray:
        """(n_leads, n_slots) response probabilities; slots are shared (s,) or per lead (n, s).

        ``lead_features``: the lead columns as a frame, or as ``LeadRows`` arrays (same result,
        no pandas work: the single-lead serving path).
        """
        n = len(lead_features)
        slots = as_ns(slots_utc)
        if slots.ndim == 1:
            slots = np.broadcast_to(slots, (n, len(slots)))
        if slots.shape[0] != n:
            raise InvalidInput(f"slots for {slots.shape[0]} leads but {n} leads given")
        zones = (
            np.full(n, time_zone, dtype=object)
            if isinstance(time_zone, str)
            else np.asarray(time_zone, dtype=object)
        )
        if len(zones) != n:
            raise InvalidInput(f"{len(zones)} time zones for {n} leads (one per lead expected)")
        hour, weekday = local_slots(slots, zones)
        if self.booster is None:
            if isinstance(lead_features, LeadRows):
                vertical = lead_features.vertical
            elif "vertical" in lead_features:
                vertical = lead_features["vertical"].astype(str).to_numpy()
            else:
                vertical = np.full(n, "")
            rows = np.array(
                [
                    self.verticals.index(v) if v in self.verticals else len(self.verticals)
                    for v in vertical
                ]
            )
            return self._prior_table[rows[:, None], weekday * 24 + hour]
        matrix = slot_matrix(
            lead_features,
            hour,
            weekday,
            prior_table=self._prior_table,
            verticals=self.verticals,
            sources=self.sources,
            components=self.components,
        )
        return self._predict(matrix).reshape(n, -1)

    def _predict(self, matrix: np.ndarray) -> np.ndarray:
        assert self.booster is not None
        # Threads only pay off for pools; for one lead their start-up costs more than the trees.
        threads = 1 if len(matrix) < 20_000 else 0
        return np.asarray(self.booster.predict(matrix, num_threads=threads))

    def slot_pool(
        self,
        lead_features: pd.DataFrame | LeadRows,
        slots_utc: np.ndarray | Sequence[dt.datetime],
        time_zones: str | Sequence[str] | np.ndarray,
    ) -> SlotPool:
        """A pool's scores over shared slots, computed only for the cells asked for (see
        :class:`SlotPool`); ``score_slots`` of the same arguments, cell for cell."""
        return SlotPool(self, lead_features, slots_utc, time_zones)

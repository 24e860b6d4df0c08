"""Send-time scores of a pool over shared slots, computed cell by cell on demand (the batch
decision ranks a pool on its allowed slots only), and the slot-time helpers the model shares:
slots as UTC nanoseconds, their local hour and weekday per zone."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from optimizer.errors import InvalidInput
from optimizer.models.send_time_features import LeadRows
from optimizer.models.slot_matrix import cell_matrix, slot_basis

if TYPE_CHECKING:
    from optimizer.models.send_time import SendTimeModel


class SlotPool:
    """Send-time scores of a pool of leads over shared slots, cell by cell on demand.

    A pool ranks leads on their allowed slots only, so only those cells are scored; leads whose
    cells are equal (same zone, same per-lead features: typically leads without history) share
    one row per slot, and a cell is predicted once however often it is asked for. Each value
    equals ``SendTimeModel.score_slots``'s for that cell bit for bit: the per-lead features are
    computed over the whole pool exactly as there, and a tree prediction reads its row alone.
    """

    def __init__(
        self,
        model: SendTimeModel,
        lead_features: pd.DataFrame | LeadRows,
        slots_utc: np.ndarray | Sequence[dt.datetime],
        time_zones: str | Sequence[str] | np.ndarray,
    ) -> None:
        n = len(lead_features)
        slots = as_ns(slots_utc)
        if slots.ndim != 1:
            raise InvalidInput(f"slots of shape {slots.shape} (one shared row of slots expected)")
        zones = (
            np.full(n, time_zones, dtype=object)
            if isinstance(time_zones, str)
            else np.asarray(time_zones, dtype=object)
        )
        if len(zones) != n:
            raise InvalidInput(f"{len(zones)} time zones for {n} leads (one per lead expected)")
        self.shape = (n, len(slots))
        self._model = model
        if model.booster is None:  # the priors: a table lookup, every cell at once
            self._group = np.arange(n)
            self._values = np.asarray(model.score_slots(lead_features, slots, zones), dtype=float)
            self._known = np.ones(self.shape, dtype=bool)
            return
        zone_code, unique_zones = pd.factorize(zones, use_na_sentinel=False)
        self._zone_code = np.asarray(zone_code, dtype=np.int64)
        # Local hour and weekday of every slot, once per zone (row = zone code).
        self._hour = np.zeros((len(unique_zones), len(slots)), dtype=np.int64)
        self._weekday = np.zeros_like(self._hour)
        for code, zone in enumerate(unique_zones):
            hour, weekday = local_slots(slots[None, :], np.array([zone], dtype=object))
            self._hour[code], self._weekday[code] = hour[0], weekday[0]
        # The persona projection's matrix products are many and small: one BLAS thread ran
        # them 4-6 times faster than two here (0.13 s against 0.6-0.9 s for 10,000 leads on 2
        # busy cores), with the same products. The lock keeps two pools from restoring each
        # other's limit.
        with _BLAS_LOCK, _blas_controller().limit(limits=1, user_api="blas"):
            self._basis = slot_basis(
                lead_features,
                prior_table=model._prior_table,
                verticals=model.verticals,
                sources=model.sources,
                components=model.components,
            )
        self._group, self._lead_of = _equal_cell_groups(
            self._basis.signature(),
            np.hstack(
                [self._zone_code[:, None], LeadRows.of(lead_features).numeric, self._codes()]
            ),
        )
        self._values = np.full((len(self._lead_of), len(slots)), np.nan)
        self._known = np.zeros(self._values.shape, dtype=bool)

    def _codes(self) -> np.ndarray:
        return np.stack([self._basis.v_code, self._basis.s_code], axis=1)

    def scores(self, cells: np.ndarray) -> np.ndarray:
        """(n_leads, n_slots) probabilities. Every cell of the bool mask ``cells`` holds its
        probability; any other cell holds its probability when it is known already (asked for
        earlier, or for a lead with equal cells), else NaN."""
        cells = np.asarray(cells, dtype=bool)
        if cells.shape != self.shape:
            raise InvalidInput(f"cells of shape {cells.shape} for a pool of {self.shape}")
        if self._model.booster is not None:
            need = np.zeros(self._known.shape, dtype=bool)
            np.logical_or.at(need, self._group, cells)
            group, slot = np.nonzero(need & ~self._known)
            if group.size:
                lead = self._lead_of[group]
                zone = self._zone_code[lead]
                matrix = cell_matrix(
                    self._basis, lead, self._hour[zone, slot], self._weekday[zone, slot]
                )
                self._values[group, slot] = self._model._predict(matrix)
                self._known[group, slot] = True
        return self._values[self._group]


def _equal_cell_groups(signature: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group of each lead, one lead of each group): leads with equal ``key`` rows (the inputs)
    share a group when their ``signature`` rows (every derived value a cell reads) are equal to
    the group's first lead's too; a lead whose derived values differ stands alone."""
    n = len(key)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = np.ascontiguousarray(key, dtype=float)
    as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).reshape(-1)
    _, first, group = np.unique(as_bytes, return_index=True, return_inverse=True)
    group = np.asarray(group, dtype=np.int64).reshape(-1)
    bits = np.ascontiguousarray(signature, dtype=float).view(np.int64)  # -0.0 is not 0.0 here
    same = (bits == bits[first[group]]).all(axis=1)
    odd = np.flatnonzero(~same)
    group[odd] = len(first) + np.arange(len(odd))
    return group, np.concatenate([first, odd]).astype(np.int64)


_CONTROLLER: list[ThreadpoolController] = []
_BLAS_LOCK = threading.Lock()


def _blas_controller() -> ThreadpoolController:
    """One controller per process (building one scans the loaded libraries)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def as_ns(slots: np.ndarray | Sequence[dt.datetime]) -> np.ndarray:
    if isinstance(slots, np.ndarray) and slots.dtype.kind == "M":
        return slots.astype("datetime64[ns]").view(np.int64)
    if isinstance(slots, np.ndarray) and slots.dtype.kind in "iu":
        return slots.astype(np.int64)
    return pd.DatetimeIndex(list(slots)).tz_convert("UTC").as_unit("ns").asi8


# Local hour and weekday per (zone, slot grid): keyed by the grid's bytes, not a hash of them.
_OFFSET_CACHE: dict[tuple[str, bytes], tuple[np.ndarray, np.ndarray]] = {}


def local_slots(slots_ns: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local hour and weekday of every slot, per lead zone (one conversion per distinct zone)."""
    hour = np.empty(slots_ns.shape, dtype=np.int64)
    weekday = np.empty(slots_ns.shape, dtype=np.int64)
    unique = pd.unique(zones)
    for zone in unique:
        sel = zones == zone if len(unique) > 1 else slice(None)
        block = slots_ns[sel]
        flat = np.unique(block)
        key = (str(zone), flat.tobytes())
        cached = _OFFSET_CACHE.get(key)
        if cached is None:
            local = pd.DatetimeIndex(flat, tz="UTC").tz_convert(str(zone))
            cached = (
                np.asarray(local.hour, dtype=np.int64),
                np.asarray(local.day_of_week, dtype=np.int64),
            )
            if len(_OFFSET_CACHE) > 256:
                _OFFSET_CACHE.clear()
            _OFFSET_CACHE[key] = cached
        pos = np.searchsorted(flat, block)
        hour[sel] = cached[0][pos]
        weekday[sel] = cached[1][pos]
    return hour, weekday

"""The batch's send-time pool scores a cell exactly as ``score_slots`` does (bit for bit)."""

from __future__ import annotations

import datetime as dt

import lightgbm as lgb
import numpy as np
import pytest

from optimizer.errors import InvalidInput
from optimizer.models.send_time import SendTimeModel
from optimizer.models.send_time_features import (
    NUMERIC_COLUMNS,
    SLOT_FEATURES,
    LeadRows,
    slot_times,
)
from optimizer.models.send_time_single import rows_frame
from optimizer.models.slot_matrix import cell_matrix, slot_basis, slot_matrix

ZONES = ("America/New_York", "America/Phoenix", "Pacific/Honolulu", "Asia/Kolkata", "Europe/London")
# Slots across the US fall-back night, across the spring-forward night, and on an ordinary day.
NOWS = (
    dt.datetime(2026, 10, 31, 12, 17, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 7, 3, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 6, 9, 16, 59, 59, tzinfo=dt.UTC),
)


def _booster(seed: int = 0) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = rng.random((3000, len(SLOT_FEATURES))).astype(np.float32)
    x[:, 0] = rng.integers(0, 24, len(x))
    x[:, 1] = rng.integers(0, 7, len(x))
    # The local hour matters (as it does in the real model): a cell read in the wrong zone shows.
    y = ((x[:, 0] >= 9) & (x[:, 0] < 17) | (x[:, 6] + 0.3 * rng.random(len(x)) > 0.9)).astype(int)
    params = {"objective": "binary", "num_leaves": 8, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=15)


def _components(k: int = 4, seed: int = 1) -> np.ndarray:
    raw = np.random.default_rng(seed).random((k, 48)) + 0.01
    return raw / raw.sum(axis=1, keepdims=True)


MODELS = {
    "booster+personas": SendTimeModel(_booster(), components=_components(), sources=("web",)),
    "booster": SendTimeModel(_booster(1), sources=("web", "ads")),
    "priors": SendTimeModel(None),
}


def _pool(n: int, seed: int) -> tuple[LeadRows, np.ndarray]:
    """Leads 0-1 equal (no history, one zone), 2 like them but in another zone, 3-5 equal with
    history, the rest random (often no history): many equal rows, as in a real pool."""
    rng = np.random.default_rng(seed)
    numeric = rng.poisson(rng.uniform(0, 2, (n, 1)), (n, len(NUMERIC_COLUMNS))).astype(float)
    numeric[rng.random(n) < 0.5] = 0.0
    numeric[:3] = 0.0
    numeric[3:6] = numeric[3]
    vertical = rng.choice(["healthcare", "retail", "b2b", "home_services"], n)
    source = rng.choice(["web", "ads", "partner"], n)
    zones = rng.choice(np.array(ZONES, dtype=object), n)
    vertical[:6], source[:6] = "retail", "web"
    zones[:2], zones[2], zones[3:6] = ZONES[0], ZONES[1], ZONES[2]
    return LeadRows(vertical.astype(str), source.astype(str), numeric), zones


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("now", NOWS, ids=["us-fall-back", "us-spring-forward", "ordinary"])
def test_pool_scores_equal_score_slots_cell_for_cell(name: str, now: dt.datetime) -> None:
    model = MODELS[name]
    rows, zones = _pool(60, seed=now.day)
    slots = slot_times(now, 72)
    full = model.score_slots(rows, slots, zones)
    pool = model.slot_pool(rows, slots, zones)
    cells = np.random.default_rng(now.month).random(full.shape) < 0.4
    got = pool.scores(cells)
    assert np.array_equal(got[cells], full[cells])
    known = ~np.isnan(got)
    assert np.array_equal(got[known], full[known])
    # Asking again, for every cell: the rest is filled in, equal to score_slots everywhere.
    assert np.array_equal(pool.scores(np.ones(full.shape, dtype=bool)), full)
    # The same from the frame the batch passes.
    frame_pool = model.slot_pool(rows_frame(rows), slots, list(zones))
    assert np.array_equal(frame_pool.scores(np.ones(full.shape, dtype=bool)), full)


def test_only_the_cells_asked_for_are_scored_and_equal_leads_share_them() -> None:
    model = MODELS["booster+personas"]
    rows, zones = _pool(12, seed=3)
    slots = slot_times(NOWS[0], 72)
    full = model.score_slots(rows, slots, zones)
    cells = np.zeros(full.shape, dtype=bool)
    cells[0, 5] = True
    got = model.slot_pool(rows, slots, zones).scores(cells)
    assert got[0, 5] == full[0, 5]
    assert got[1, 5] == full[1, 5]  # lead 1's cells are lead 0's: known already
    assert np.isnan(got[2, 5])  # another zone: another local hour, not asked for
    assert np.isnan(got[0, 6]) and np.isnan(got[3:]).all()


def test_cell_matrix_rows_equal_slot_matrix_rows() -> None:
    model = MODELS["booster+personas"]
    rows, _zones = _pool(30, seed=5)
    rng = np.random.default_rng(5)
    hour, weekday = rng.integers(0, 24, (30, 9)), rng.integers(0, 7, (30, 9))
    kwargs = dict(
        prior_table=model._prior_table,
        verticals=model.verticals,
        sources=model.sources,
        components=model.components,
    )
    full = slot_matrix(rows, hour, weekday, **kwargs)  # type: ignore[arg-type]
    basis = slot_basis(rows, **kwargs)  # type: ignore[arg-type]
    pick = rng.choice(30 * 9, 40, replace=False)
    lead, slot = np.divmod(pick, 9)
    part = cell_matrix(basis, lead, hour[lead, slot], weekday[lead, slot])
    assert part.dtype == np.float32
    assert np.array_equal(part.view(np.uint32), full[pick].view(np.uint32))


def test_pool_rejects_bad_input() -> None:
    model = MODELS["booster"]
    rows, zones = _pool(4, seed=0)
    slots = slot_times(NOWS[2], 6)
    with pytest.raises(InvalidInput, match="3 time zones for 4 leads"):
        model.slot_pool(rows, slots, zones[:3])
    with pytest.raises(InvalidInput, match="one shared row of slots expected"):
        model.slot_pool(rows, np.tile(slots, (4, 1)), zones)
    with pytest.raises(InvalidInput, match=r"cells of shape \(4, 5\) for a pool of \(4, 6\)"):
        model.slot_pool(rows, slots, zones).scores(np.ones((4, 5), dtype=bool))


def test_an_empty_pool_scores_nothing() -> None:
    rows = LeadRows(np.array([], dtype=str), np.array([], dtype=str), np.zeros((0, 54)))
    pool = MODELS["booster+personas"].slot_pool(rows, slot_times(NOWS[2], 6), [])
    assert pool.scores(np.zeros((0, 6), dtype=bool)).shape == (0, 6)

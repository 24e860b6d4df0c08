"""The slot half of the send-time features: per lead, what its engagement history says about
each local hour (smoothed shares, dayparts, windows, its mix of engagement 'personas'), then one
row per (lead, slot) cell for the model.

``slot_basis`` does the per-lead work once; ``cell_matrix`` assembles rows for any cells of those
leads; ``slot_matrix`` is both for every (lead, slot) of a pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput
from optimizer.models.send_time_features import (
    COUNT_TYPES,
    DAYPART,
    KERNEL,
    N_PARTS,
    SMOOTHING,
    WIDE,
    LeadRows,
)

# One-hot daypart of each hour of the day (read-only).
_PART_OF = np.eye(N_PARTS)[DAYPART]
_PART_OF.setflags(write=False)


def project(counts: np.ndarray, components: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Each lead's mix of the personas (rows sum to 1): multiplicative updates for the
    Poisson likelihood of its counts, started from the uniform mix (vectorised over leads).

    Each update is ``rate = weights @ components + 1e-12``, ``weights *= (counts / rate) @
    components.T + 0.5``, ``weights /= weights.sum(axis=1, keepdims=True)``: the same
    operations on the same shapes, written into buffers allocated once (for one lead the
    allocations cost more than the arithmetic)."""
    n, k = counts.shape[0], components.shape[0]
    weights = np.full((n, k), 1.0 / k)
    components_t = components.T
    rate = np.empty((n, components.shape[1]))
    step = np.empty((n, k))
    total = np.empty((n, 1))
    matmul, add, divide, multiply, add_up = np.matmul, np.add, np.divide, np.multiply, np.add.reduce
    for _ in range(iterations):  # outputs passed positionally: the cheapest call for a ufunc
        matmul(weights, components, rate)
        add(rate, 1e-12, rate)
        divide(counts, rate, rate)
        matmul(rate, components_t, step)
        add(step, 0.5, step)  # + pseudo-count keeps the mix smooth
        multiply(weights, step, weights)
        add_up(weights, 1, None, total, keepdims=True)  # weights.sum(axis=1, keepdims=True)
        divide(weights, total, weights)
    return weights


def project_one(counts: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``project`` of one lead's (1, bins) counts, remembered for the last leads' counts (the
    single-lead decision asks again for a lead whose history has not changed, and most new
    leads share the all-zero history): the same array as ``project`` gives, read-only."""
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    components = np.ascontiguousarray(components, dtype=np.float64)
    return _project_cached(counts.tobytes(), counts.shape, components.tobytes(), components.shape)


@lru_cache(maxsize=4096)
def _project_cached(
    counts: bytes, counts_shape: tuple[int, ...], components: bytes, shape: tuple[int, ...]
) -> np.ndarray:
    weights = project(
        np.frombuffer(counts).reshape(counts_shape), np.frombuffer(components).reshape(shape)
    )
    weights.setflags(write=False)
    return weights


@dataclass(frozen=True)
class SlotBasis:
    """What ``slot_matrix`` derives per lead before it looks at a slot. Any set of (lead, slot)
    cells can then be built with ``cell_matrix``, each row equal to ``slot_matrix``'s row for
    that cell bit for bit (per-cell work is element-wise; the per-lead sums, products and the
    persona projection are computed once, over all the leads, here)."""

    v_code: np.ndarray  # (n,) vertical index (len(verticals) = other)
    s_code: np.ndarray  # (n,) source index
    prior: np.ndarray  # (n, 168) prior response by local hour-of-week
    prior_hour: np.ndarray  # (n, 24)
    prior_parts: np.ndarray  # (n, N_PARTS)
    prior_wide: np.ndarray  # (n, 24)
    both: np.ndarray  # (n, 24) smoothed engagement by hour, weekdays and weekends together
    share: np.ndarray  # (n, 24)
    wd_s: np.ndarray  # (n, 24) smoothed weekday engagement
    we_s: np.ndarray  # (n, 24)
    wd_parts: np.ndarray  # (n, N_PARTS)
    we_parts: np.ndarray  # (n, N_PARTS)
    parts: np.ndarray  # (n, N_PARTS) wd_parts + we_parts
    wide_wd: np.ndarray  # (n, 24)
    wide_we: np.ndarray  # (n, 24)
    wd_total: np.ndarray  # (n,)
    we_total: np.ndarray  # (n,)
    total: np.ndarray  # (n,)
    blocks: np.ndarray  # (n, 4) block shares: morning, midday, evening, weekend
    per_hour: np.ndarray | None  # (n, 48) persona share per hour of a day type (None: none)
    log_counts: np.ndarray  # (n, len(COUNT_TYPES))

    def __len__(self) -> int:
        return len(self.v_code)

    def signature(self) -> np.ndarray:
        """(n, k) every per-lead value a cell reads: two leads with equal rows (and the same
        zone) have equal cells."""
        parts = [
            self.v_code[:, None],
            self.s_code[:, None],
            self.prior,
            self.prior_hour,
            self.prior_parts,
            self.prior_wide,
            self.both,
            self.share,
            self.wd_s,
            self.we_s,
            self.wd_parts,
            self.we_parts,
            self.parts,
            self.wide_wd,
            self.wide_we,
            self.wd_total[:, None],
            self.we_total[:, None],
            self.total[:, None],
            self.blocks,
            self.log_counts,
        ]
        if self.per_hour is not None:
            parts.append(self.per_hour)
        return np.hstack([np.asarray(p, dtype=float) for p in parts])


def slot_basis(
    lead_features: pd.DataFrame | LeadRows,
    *,
    prior_table: np.ndarray,
    verticals: Sequence[str],
    sources: Sequence[str],
    components: np.ndarray | None = None,
) -> SlotBasis:
    """The per-lead half of ``slot_matrix`` (see :class:`SlotBasis`)."""
    rows_in = LeadRows.of(lead_features)
    vertical, source, numeric = rows_in.vertical, rows_in.source, rows_in.numeric
    n = len(rows_in)
    v_code = np.array(
        [verticals.index(v) if v in verticals else len(verticals) for v in vertical],
        dtype=np.int64,
    )
    s_code = np.array(
        [sources.index(x) if x in sources else len(sources) for x in source], dtype=np.int64
    )
    wd, we = numeric[:, :24], numeric[:, 24:48]
    prior = prior_table[v_code]  # (n, 168)
    prior_hour = prior.reshape(n, 7, 24).mean(axis=1)
    prior_hour = prior_hour / prior_hour.sum(axis=1, keepdims=True)
    total = (wd + we).sum(axis=1, keepdims=True)
    part_of = _PART_OF  # (24, parts)
    wd_parts, we_parts = wd @ part_of, we @ part_of
    blocks = [
        wd[:, 7:11].sum(axis=1),
        wd[:, 11:14].sum(axis=1),
        (wd + we)[:, 17:22].sum(axis=1),
        we[:, 9:17].sum(axis=1),
    ]
    per_hour = None
    if components is not None:
        counts = np.hstack([wd, we])
        mix = project_one(counts, components) if n == 1 else project(counts, components)
        curve = mix @ components  # (n, 48) expected share of engagement by bin
        per_hour = np.hstack([curve[:, :24] / 5.0, curve[:, 24:] / 2.0])  # per day of that type
    both = _smooth(wd + we)
    return SlotBasis(
        v_code=v_code,
        s_code=s_code,
        prior=prior,
        prior_hour=prior_hour,
        prior_parts=prior_hour @ part_of,
        prior_wide=_smooth(prior_hour, WIDE),
        both=both,
        share=(both + SMOOTHING * prior_hour) / (total + SMOOTHING),
        wd_s=_smooth(wd),
        we_s=_smooth(we),
        wd_parts=wd_parts,
        we_parts=we_parts,
        parts=wd_parts + we_parts,
        wide_wd=_smooth(wd, WIDE),
        wide_we=_smooth(we, WIDE),
        wd_total=wd.sum(axis=1),
        we_total=we.sum(axis=1),
        total=total[:, 0],
        blocks=np.stack([(b + 0.5) / (total[:, 0] + 2.0) for b in blocks], axis=1),
        per_hour=per_hour,
        log_counts=np.stack([np.log1p(numeric[:, 48 + c]) for c in range(len(COUNT_TYPES))], 1),
    )


def cell_matrix(
    basis: SlotBasis, lead: np.ndarray, local_hour: np.ndarray, weekday: np.ndarray
) -> np.ndarray:
    """(m, len(SLOT_FEATURES)) float32 rows for the m cells (``lead[i]``, slot at local hour
    ``local_hour[i]`` on ``weekday[i]``); ``lead`` indexes the rows of ``basis``."""
    b = basis
    hour = np.asarray(local_hour, dtype=np.int64).reshape(-1)
    weekday = np.asarray(weekday, dtype=np.int64).reshape(-1)
    lead = np.asarray(lead, dtype=np.int64).reshape(-1)
    weekend = weekday >= 5
    total = b.total[lead]
    day_counts = np.where(weekend, b.we_s[lead, hour], b.wd_s[lead, hour])
    day_total = np.where(weekend, b.we_total[lead], b.wd_total[lead])
    share_daytype_hour = (day_counts + SMOOTHING * b.prior_hour[lead, hour]) / (
        day_total + SMOOTHING
    )
    part = DAYPART[hour]
    day_parts = np.where(weekend, b.we_parts[lead, part], b.wd_parts[lead, part])
    daypart_share = (day_parts + SMOOTHING * b.prior_parts[lead, part]) / (day_total + SMOOTHING)
    part_share = (b.parts[lead, part] + SMOOTHING * b.prior_parts[lead, part]) / (total + SMOOTHING)
    wide = np.where(weekend, b.wide_we[lead, hour], b.wide_wd[lead, hour])
    window_share = (wide + SMOOTHING * b.prior_wide[lead, hour]) / (day_total + SMOOTHING)
    if b.per_hour is not None:
        persona_share = b.per_hour[lead, np.where(weekend, 24, 0) + hour] * 7.0
    else:
        persona_share = share_daytype_hour * 24.0
    expected_day = np.where(weekend, 2.0 / 7.0, 5.0 / 7.0)
    share_daytype = (day_total + SMOOTHING * expected_day) / (total + SMOOTHING) / expected_day
    columns = [
        hour,
        weekday,
        weekend,
        b.v_code[lead],
        b.s_code[lead],
        b.prior[lead, weekday * 24 + hour],
        b.share[lead, hour],
        share_daytype_hour,
        b.both[lead, hour],
        share_daytype,
        daypart_share,
        part_share,
        window_share,
        *(b.blocks[lead, j] for j in range(b.blocks.shape[1])),
        persona_share,
        total,
        *(b.log_counts[lead, c] for c in range(len(COUNT_TYPES))),
    ]
    out = np.empty((len(lead), len(columns)), dtype=np.float32)
    for j, col in enumerate(columns):
        out[:, j] = col
    return out


def slot_matrix(
    lead_features: pd.DataFrame | LeadRows,
    local_hour: np.ndarray,
    weekday: np.ndarray,
    *,
    prior_table: np.ndarray,
    verticals: Sequence[str],
    sources: Sequence[str],
    components: np.ndarray | None = None,
) -> np.ndarray:
    """(n_leads * n_slots, len(SLOT_FEATURES)) float32; ``local_hour``/``weekday`` are (n, s).

    ``prior_table``: (len(verticals) + 1, 168) prior response by vertical (last row = other).
    """
    n, s = local_hour.shape
    basis = slot_basis(
        lead_features,
        prior_table=prior_table,
        verticals=verticals,
        sources=sources,
        components=components,
    )
    if len(basis) != n:
        raise InvalidInput(f"slot hours for {n} leads but {len(basis)} leads given")
    lead = np.repeat(np.arange(n), s)
    return cell_matrix(basis, lead, local_hour.reshape(-1), weekday.reshape(-1))


def _smooth(counts: np.ndarray, kernel: np.ndarray = KERNEL) -> np.ndarray:
    """Circular kernel smoothing over the 24 hours of each row (kernel centred): the sum of
    ``w * np.roll(counts, k - half, axis=1)``, each roll a gather with precomputed indices."""
    return sum(  # type: ignore[return-value]
        w * counts.take(index, axis=1)
        for index, w in zip(_roll_indices(len(kernel), counts.shape[1]), kernel, strict=True)
    )


@lru_cache(maxsize=16)
def _roll_indices(width: int, columns: int) -> tuple[np.ndarray, ...]:
    """Per kernel position ``k``: the column indices ``np.roll(x, k - width // 2, axis=1)``
    reads (``np.roll`` by ``shift`` puts column ``(j - shift) % columns`` at ``j``)."""
    half = width // 2
    return tuple((np.arange(columns) - (k - half)) % columns for k in range(width))

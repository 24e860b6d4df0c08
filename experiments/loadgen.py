"""An open-loop HTTP load generator: requests leave on a fixed schedule whatever the answers.

Closed-loop clients slow down when the server does and hide its queueing delay; an open loop
at a fixed rate measures the latency a caller would see at that rate. Only loopback targets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np


@dataclass(frozen=True)
class LoadResult:
    rate: float
    sent: int
    ok: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    achieved_rate: float

    def line(self) -> str:
        return (
            f"rate {self.rate:6.0f}/s  sent {self.sent:6d}  ok {self.ok:6d}  errors {self.errors:4d}  "
            f"p50 {self.p50_ms:7.2f} ms  p90 {self.p90_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  "
            f"max {self.max_ms:8.2f} ms  achieved {self.achieved_rate:6.1f}/s"
        )


async def _open_loop(
    base_url: str,
    headers: dict[str, str],
    make_request: Callable[[int], tuple[str, str, dict[str, Any]]],
    rate: float,
    duration_s: float,
) -> LoadResult:
    if not base_url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError(f"base_url {base_url!r} is not a loopback address")
    total = int(rate * duration_s)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, limits=limits
    ) as client:

        async def one(i: int, due: float) -> None:
            nonlocal errors
            method, path, body = make_request(i)
            try:
                response = await client.request(method, path, json=body)
                if response.status_code >= 400:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            # Latency from when the request was due, so client-side delay counts too.
            latencies.append(time.perf_counter() - due)

        start = time.perf_counter()
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    values = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return LoadResult(
        rate=rate,
        sent=total,
        ok=len(latencies),
        errors=errors,
        p50_ms=float(np.percentile(values, 50)),
        p90_ms=float(np.percentile(values, 90)),
        p99_ms=float(np.percentile(values, 99)),
        max_ms=float(np.max(values)),
        achieved_rate=len(latencies) / elapsed,
    )


def run_open_loop(
    base_url: str,
    headers: dict[str, str],
    make_request: Callable[[int], tuple[str, str, dict[str, Any]]],
    *,
    rate: float,
    duration_s: float,
) -> LoadResult:
    return asyncio.run(_open_loop(base_url, headers, make_request, rate, duration_s))

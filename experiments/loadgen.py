"""An open-loop HTTP load generator: requests leave on a fixed schedule whatever the answers.

Closed-loop clients slow down when the server does and hide its queueing delay; an open loop
at a fixed rate measures the latency a caller would see at that rate. Only loopback targets.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (a pool of connections,
one request in flight per connection): on this 2-core machine it shares the CPU with the
server, and a full-featured async client spends about a millisecond of CPU per request of its
own, which would be counted as server latency.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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


class HttpError(Exception):
    pass


class _Pool:
    """Keep-alive connections to one host; a request takes an idle one or opens a new one."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        lines = [f"Host: {host}:{port}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.header_block = "\r\n".join(lines)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def request(self, method: str, path: str, body: dict[str, Any] | None) -> int:
        """Send one request and read the whole response; its status code."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self.header_block}\r\nContent-Length: {len(payload)}"
        message = head.encode() + b"\r\n\r\n" + payload
        while True:
            reused = bool(self.idle)
            if reused:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                self.opened.append(writer)
            try:
                writer.write(message)
                status_line = await reader.readline()
            except ConnectionError:
                status_line = b""
            if status_line or not reused:
                break
            # The server closed this idle keep-alive connection: send again on another one.
            writer.close()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"bad status line {status_line!r}")
        length, chunked, close = 0, False, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await reader.readexactly(length)
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return int(parts[1])

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()


async def _open_loop(
    base_url: str,
    headers: dict[str, str],
    make_request: Callable[[int], tuple[str, str, dict[str, Any]]],
    rate: float,
    duration_s: float,
) -> LoadResult:
    if not base_url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError(f"base_url {base_url!r} is not a loopback address")
    url = urlsplit(base_url)
    pool = _Pool(url.hostname or "127.0.0.1", url.port or 80, headers)
    total = int(rate * duration_s)
    latencies: list[float] = []
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        method, path, body = make_request(i)
        try:
            status = await asyncio.wait_for(pool.request(method, path, body), timeout=30)
        except (OSError, HttpError, asyncio.IncompleteReadError, TimeoutError):
            errors += 1
            return
        if status >= 400:
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
    await pool.close()
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
    """Run the open loop with this process's garbage collector out of the way: a benchmark
    process holds a large heap (simulated store, trained models), and one full collection of it
    (0.2 s) would stall the sender and count as server latency."""
    gc.collect()
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        return asyncio.run(_open_loop(base_url, headers, make_request, rate, duration_s))
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()

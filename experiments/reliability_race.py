"""Opt-out race: STOPs at random moments, confirms of pre-made decisions around them.

For each lead, a STOP (an inbound event) and several confirms of its pre-made decisions arrive
at about the same moment from many concurrent clients. The figure is the number of marketing
sends committed *after* the lead's STOP was stored, read from the store by commit order (not
by any timestamp the service wrote): on SQLite the rows' ids (one writer, so ids follow commit
order); on PostgreSQL each row's commit timestamp (``track_commit_timestamp``), falling back
to ids where the server does not keep them. It must be 0.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from experiments.live_server import ServerProcess
from optimizer.phones import InvalidPhone, parse_phone
from optimizer.store.db import make_engine

TEMPLATE = "Acme Dental: hi {first_name}, your cleaning is one tap away. Reply STOP to opt out."
DISCLOSURE = (
    "By checking this box I agree to receive recurring automated marketing texts from Acme Dental "
    "at the number provided. Consent is not a condition of purchase. Msg & data rates may apply. "
    "Reply STOP to opt out."
)
# Area codes whose zone may be in daytime now (the race runs on the server's real clock, and
# the gate rightly refuses marketing texts at night), mainland first.
AREA_ZONES: tuple[tuple[str, str], ...] = (
    ("212", "America/New_York"),
    ("312", "America/Chicago"),
    ("303", "America/Denver"),
    ("206", "America/Los_Angeles"),
    ("907", "America/Anchorage"),
    ("808", "Pacific/Honolulu"),
    ("787", "America/Puerto_Rico"),
    ("671", "Pacific/Guam"),
    ("684", "Pacific/Pago_Pago"),
)
BRAND = "Acme Dental"


def daytime_area_codes(now: dt.datetime, *, margin_minutes: int = 20) -> list[str]:
    """Area codes whose local time is 10:00–18:00 now and ``margin_minutes`` from now."""
    found = []
    for area, zone in AREA_ZONES:
        hours = [
            (now + dt.timedelta(minutes=m)).astimezone(ZoneInfo(zone)).hour
            for m in (0, margin_minutes)
        ]
        if all(10 <= h < 18 for h in hours):
            found.append(area)
    return found


def phone_numbers(area: str, count: int, rng: random.Random) -> list[str]:
    """``count`` distinct valid mobile-plausible numbers in ``area``."""
    numbers: set[str] = set()
    while len(numbers) < count:
        candidate = f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        try:
            info = parse_phone(candidate)
        except InvalidPhone:
            continue
        if "mobile" in info.number_type:  # a handset: the gate refuses fixed lines
            numbers.add(candidate)
    return sorted(numbers)


@dataclass
class RaceResult:
    leads: int
    decisions: int
    stops_acknowledged: int
    confirms: int
    confirms_allowed: int
    sends_after_stop: int
    errors: int
    slowest_seconds: float
    order_by: str
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "leads": self.leads,
            "decisions": self.decisions,
            "stops_acknowledged": self.stops_acknowledged,
            "confirms": self.confirms,
            "confirms_allowed": self.confirms_allowed,
            "sends_after_stop": self.sends_after_stop,
            "errors": self.errors,
            "slowest_s": round(self.slowest_seconds, 3),
            "order_by": self.order_by,
        }


def _setup(
    server: ServerProcess, *, phones: list[str], decisions_per_lead: int, now: dt.datetime
) -> dict[int, tuple[str, list[str]]]:
    """Leads with consent and pre-made sendable decisions: lead id → (phone, decision ids)."""
    made: dict[int, tuple[str, list[str]]] = {}
    with server.client("ingest") as ingest, server.client("decide") as decide:
        for i, phone in enumerate(phones):
            created = now - dt.timedelta(minutes=1)
            lead = ingest.post(
                "/v1/leads",
                json={
                    "external_id": f"race-{i}",
                    "phone": phone,
                    "attributes": {"first_name": "Ana"},
                    "created_at": created.isoformat(),
                },
            )
            lead.raise_for_status()
            lead_id = int(lead.json()["id"])
            ingest.post(
                f"/v1/leads/{lead_id}/consents",
                json={
                    "granted_at": (created - dt.timedelta(seconds=5)).isoformat(),
                    "method": "web",
                    "brand": "Acme Dental",
                    "disclosure": DISCLOSURE,
                    "evidence": {"page_url": "https://acme.example/form"},
                },
            ).raise_for_status()
            ids = []
            for _ in range(decisions_per_lead):
                answer = decide.post(
                    "/v1/next-best-action", json={"lead_id": lead_id, "template": TEMPLATE}
                )
                answer.raise_for_status()
                body = answer.json()
                if body["action"] in ("send_now", "send_at") and body["text"]:
                    ids.append(body["decision_id"])
            made[lead_id] = (phone, ids)
    return made


def _tasks(
    made: dict[int, tuple[str, list[str]]], *, spread: float, jitter: float, rng: random.Random
) -> list[tuple[float, str, int, str]]:
    """(offset in seconds, kind, lead id, decision id or '') sorted by offset."""
    tasks: list[tuple[float, str, int, str]] = []
    for lead_id, (_phone, decision_ids) in made.items():
        moment = rng.uniform(0, spread)
        tasks.append((moment, "stop", lead_id, ""))
        for decision_id in decision_ids:
            tasks.append(
                (max(0.0, moment + rng.uniform(-jitter, jitter)), "confirm", lead_id, decision_id)
            )
    tasks.sort()
    return tasks


def _violations(database_url: str, lead_ids: list[int]) -> tuple[int, str]:
    """Sends committed after their lead's STOP, by commit order in the store."""
    engine = make_engine(database_url, create_dirs=False)
    try:
        with engine.connect() as conn:
            order = "id"
            if engine.dialect.name == "postgresql":
                on = conn.execute(text("SHOW track_commit_timestamp")).scalar()
                if on == "on":
                    order = "commit_timestamp"
            key = "pg_xact_commit_timestamp(xmin)" if order == "commit_timestamp" else "id"
            stops = dict(
                conn.execute(
                    text(
                        f"SELECT lead_id, MIN({key}) FROM events WHERE type = 'inbound' "
                        "AND channel = 'sms' GROUP BY lead_id"
                    )
                ).all()
            )
            sends = conn.execute(
                text(
                    f"SELECT lead_id, {key} FROM events WHERE type = 'sent' "
                    "AND decision_id IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    wanted = set(lead_ids)
    late = sum(
        1 for lead_id, at in sends if lead_id in wanted and lead_id in stops and at > stops[lead_id]
    )
    return late, order


def run_race(
    server: ServerProcess,
    *,
    leads: int = 100,
    decisions_per_lead: int = 3,
    clients: int = 50,
    spread_seconds: float = 4.0,
    jitter_seconds: float = 0.05,
    seed: int = 0,
    now: dt.datetime,
) -> RaceResult:
    """One race on a running server (its store must be fresh); see the module docstring."""
    rng = random.Random(seed)
    areas = daytime_area_codes(now)
    if not areas:
        raise RuntimeError(
            f"no area code of {[a for a, _ in AREA_ZONES]} is in daytime at {now.isoformat()}: "
            "the gate (rightly) allows no marketing text, so there is no race to run"
        )
    phones = phone_numbers(areas[0], leads, rng)
    made = _setup(server, phones=phones, decisions_per_lead=decisions_per_lead, now=now)
    tasks = _tasks(made, spread=spread_seconds, jitter=jitter_seconds, rng=rng)
    lock = threading.Lock()
    outcome = {"stops": 0, "confirms": 0, "allowed": 0, "errors": 0, "slowest": 0.0}
    samples: list[str] = []
    local = threading.local()

    def client(scope: str) -> httpx.Client:
        existing = getattr(local, scope, None)
        if existing is None:
            existing = server.client(scope, timeout=120)
            setattr(local, scope, existing)
        return existing  # type: ignore[no-any-return]

    start = time.monotonic() + 0.5

    def run(task: tuple[float, str, int, str]) -> None:
        offset, kind, lead_id, decision_id = task
        delay = start + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.monotonic()
        try:
            if kind == "stop":
                response = client("ingest").post(
                    "/v1/events",
                    json={
                        "events": [
                            {
                                "idempotency_key": f"race-stop-{lead_id}",
                                "lead_id": lead_id,
                                "type": "inbound",
                                "channel": "sms",
                                "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                                "text": "STOP",
                            }
                        ]
                    },
                )
            else:
                response = client("decide").post(f"/v1/decisions/{decision_id}/confirm")
            status = response.status_code
            body = response.json() if status < 300 else None
        except httpx.HTTPError as exc:
            status, body = 0, None
            detail = type(exc).__name__
        else:
            detail = f"{status} {response.text[:200]}"
        took = time.monotonic() - began
        with lock:
            outcome["slowest"] = max(outcome["slowest"], took)
            if not 200 <= status < 300:
                outcome["errors"] += 1
                if len(samples) < 5:
                    samples.append(f"{kind}: {detail}")
            elif kind == "stop":
                outcome["stops"] += 1
            else:
                outcome["confirms"] += 1
                outcome["allowed"] += int(bool(body and body.get("allowed")))

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(run, tasks))
    late, order = _violations(server.database_url, list(made))
    return RaceResult(
        leads=len(made),
        decisions=sum(len(ids) for _, ids in made.values()),
        stops_acknowledged=int(outcome["stops"]),
        confirms=int(outcome["confirms"]),
        confirms_allowed=int(outcome["allowed"]),
        sends_after_stop=late,
        errors=int(outcome["errors"]),
        slowest_seconds=float(outcome["slowest"]),
        order_by=order,
        error_samples=samples,
    )

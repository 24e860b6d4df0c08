"""Our engine: a simulated sequence engine that asks the real API over HTTP.

First touch: ask next-best-action the moment a lead arrives (speed to lead). Follow-ups: once a
simulated day, the leads whose next touch is due (Day 4, Day 8 after the first) go to the batch
endpoint with room for only part of them; the service ranks them by expected value. Every text
is confirmed at dispatch, where the gate runs again; outcomes are posted back as events.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import httpx

from optimizer.simulation import Outcome, SendRequest, SimLead

FOLLOW_UP_DAYS = (4, 8)
TIME_CODES = ("quiet_hours", "banned_day", "frequency")


@dataclass
class LeadState:
    api_id: int
    first_touch_at: dt.datetime | None = None
    touches: int = 0
    converted: bool = False
    suppressed: bool = False
    last_decision_id: str | None = None
    next_follow_up: dt.datetime | None = None


@dataclass
class EngineCounters:
    decisions: int = 0
    send_now: int = 0
    send_at: int = 0
    hold: int = 0
    suppress: int = 0
    quiet_hour_deferrals: int = 0
    frequency_deferrals: int = 0
    confirm_refused: int = 0
    batch_calls: int = 0
    batch_selected: int = 0
    batch_skipped: int = 0
    requests: int = 0
    events_posted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class HttpEngine:
    def __init__(
        self,
        client: httpx.Client,
        *,
        experiment_id: int,
        brand: str,
        follow_up_share: float = 0.6,
        follow_up_hour_utc: int = 6,
        response_delay: dt.timedelta = dt.timedelta(seconds=20),
    ) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.brand = brand
        self.follow_up_share = follow_up_share
        self.follow_up_hour_utc = follow_up_hour_utc
        self.response_delay = response_delay
        self.leads: dict[str, LeadState] = {}
        self.by_api_id: dict[int, str] = {}
        self.counters = EngineCounters()
        self._queue: list[tuple[dt.datetime, int, str, str, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._event_seq = itertools.count()
        self._last_batch_day: dt.date | None = None

    # -- HTTP ------------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counters.requests += 1
        response = self.client.post(path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text[:300]}")
        return response.json()  # type: ignore[no-any-return]

    def _schedule(self, at: dt.datetime, kind: str, lead_key: str, payload: dict[str, Any]) -> None:
        heapq.heappush(self._queue, (at, next(self._seq), kind, lead_key, payload))

    # -- Engine protocol -------------------------------------------------------------------
    def register_lead(self, lead: SimLead, now: dt.datetime) -> None:
        created = self._post(
            "/v1/leads",
            {
                "external_id": lead.external_id,
                "phone": lead.phone,
                "email": lead.email,
                "state": lead.state,
                "postal_code": lead.postal_code,
                "timezone": lead.timezone,
                "source": lead.source,
                "vertical": lead.vertical,
                "attributes": lead.attributes,
                "created_at": lead.created_at.isoformat(),
            },
        )
        state = LeadState(api_id=int(created["id"]))
        self.leads[lead.external_id] = state
        self.by_api_id[state.api_id] = lead.external_id
        if lead.consent_given and lead.consent_at is not None:
            self._post(
                f"/v1/leads/{state.api_id}/consents",
                {
                    "granted_at": lead.consent_at.isoformat(),
                    "method": lead.consent_method or "web",
                    "brand": self.brand,
                    "disclosure": lead.consent_disclosure or "",
                },
            )
        self._schedule(
            max(now, lead.created_at) + self.response_delay,
            "ask",
            lead.external_id,
            {"horizon": 72},
        )

    def due_sends(self, now: dt.datetime, until: dt.datetime) -> list[SendRequest]:
        if now.hour == self.follow_up_hour_utc and self._last_batch_day != now.date():
            self._last_batch_day = now.date()
            self._follow_ups(now)
        sends: list[SendRequest] = []
        while self._queue and self._queue[0][0] < until:
            at, _, kind, key, payload = heapq.heappop(self._queue)
            at = min(max(at, now), until - dt.timedelta(seconds=1))
            state = self.leads[key]
            if state.suppressed or state.converted:
                continue
            if kind == "ask":
                sends.extend(self._ask(key, state, at, payload["horizon"], now, until))
            elif kind == "confirm":
                sent = self._confirm(key, state, at, payload)
                if sent is not None:
                    sends.append(sent)
        return sends

    def observe(self, outcome: Outcome) -> None:
        state = self.leads.get(outcome.lead_key)
        if state is None:
            return
        kind = {"opt_out": "inbound", "inbound": "inbound"}.get(outcome.type, outcome.type)
        event: dict[str, Any] = {
            "idempotency_key": f"demo-{outcome.lead_key}-{next(self._event_seq)}",
            "lead_id": state.api_id,
            "type": kind,
            "channel": "sms",
            "occurred_at": outcome.at.isoformat(),
        }
        if outcome.text:
            event["text"] = outcome.text
        if outcome.value is not None:
            event["value"] = outcome.value
        if state.last_decision_id and outcome.type in ("reply", "click", "conversion"):
            event["decision_id"] = state.last_decision_id
        body = self._post("/v1/events", {"events": [event]})
        self.counters.events_posted += 1
        if any(action["type"] == "send_confirmation" for action in body["actions"]):
            state.suppressed = True
        if outcome.type == "opt_out":
            state.suppressed = True
        if outcome.type == "conversion":
            state.converted = True

    # -- steps -----------------------------------------------------------------------------
    def _count(self, decision: dict[str, Any]) -> None:
        c = self.counters
        c.decisions += 1
        action = decision["action"]
        setattr(c, action, getattr(c, action) + 1)
        codes = {r["code"] for r in decision["reasons"]}
        for code in codes:
            top = code.split(".")[0]
            c.reasons[top] = c.reasons.get(top, 0) + 1
        if action in ("send_at", "hold") and any(
            code.startswith(("quiet_hours", "banned_day")) for code in codes
        ):
            c.quiet_hour_deferrals += 1
        if action in ("send_at", "hold") and any(code.startswith("frequency") for code in codes):
            c.frequency_deferrals += 1

    def _ask(
        self,
        key: str,
        state: LeadState,
        at: dt.datetime,
        horizon: int,
        now: dt.datetime,
        until: dt.datetime,
    ) -> list[SendRequest]:
        decision = self._post(
            "/v1/next-best-action",
            {
                "lead_id": state.api_id,
                "experiment_id": self.experiment_id,
                "horizon_hours": horizon,
                "as_of": at.isoformat(),
            },
        )
        return self._act(key, state, decision, at, until)

    def _act(
        self,
        key: str,
        state: LeadState,
        decision: dict[str, Any],
        at: dt.datetime,
        until: dt.datetime,
    ) -> list[SendRequest]:
        self._count(decision)
        action = decision["action"]
        payload = {
            "decision_id": decision["decision_id"],
            "variant": decision["variant_name"],
            "text": decision["text"],
        }
        if action == "suppress":
            state.suppressed = True
            return []
        if action == "hold":
            later = decision["compliance"]["next_allowed_at"]
            if later is not None:
                self._schedule(dt.datetime.fromisoformat(later), "ask", key, {"horizon": 24})
            return []
        send_at = dt.datetime.fromisoformat(decision["send_at"]) if action == "send_at" else at
        if send_at < until:
            sent = self._confirm(key, state, max(send_at, at), payload)
            return [sent] if sent is not None else []
        self._schedule(send_at, "confirm", key, payload)
        return []

    def _confirm(
        self, key: str, state: LeadState, at: dt.datetime, payload: dict[str, Any]
    ) -> SendRequest | None:
        result = self._post(
            f"/v1/decisions/{payload['decision_id']}/confirm", {"as_of": at.isoformat()}
        )
        if not result["allowed"]:
            self.counters.confirm_refused += 1
            return None
        state.touches += 1
        state.last_decision_id = payload["decision_id"]
        if state.first_touch_at is None:
            state.first_touch_at = at
        if state.touches <= len(FOLLOW_UP_DAYS):
            state.next_follow_up = state.first_touch_at + dt.timedelta(
                days=FOLLOW_UP_DAYS[state.touches - 1]
            )
        else:
            state.next_follow_up = None
        return SendRequest(
            lead_key=key, at=at, variant=payload["variant"] or "", text=payload["text"]
        )

    def _follow_ups(self, now: dt.datetime) -> None:
        """Once a day: the due follow-ups go to the batch endpoint, which keeps the best share."""
        due = [
            (key, state)
            for key, state in self.leads.items()
            if state.next_follow_up is not None
            and state.next_follow_up <= now + dt.timedelta(hours=24)
            and not state.suppressed
            and not state.converted
        ]
        if not due:
            return
        capacity = max(1, math.ceil(self.follow_up_share * len(due)))
        body = self._post(
            "/v1/next-best-action/batch",
            {
                "lead_ids": [state.api_id for _, state in due],
                "capacity": capacity,
                "horizon_hours": 24,
                "experiment_id": self.experiment_id,
                "as_of": now.isoformat(),
            },
        )
        self.counters.batch_calls += 1
        self.counters.batch_selected += len(body["selected"])
        self.counters.batch_skipped += len(due) - len(body["selected"])
        for _, state in due:
            state.next_follow_up = None  # this step is decided: sent in the window, or skipped
        for decision in body["selected"]:
            key = self.by_api_id[decision["lead_id"]]
            state = self.leads[key]
            self._count(decision)
            payload = {
                "decision_id": decision["decision_id"],
                "variant": decision["variant_name"],
                "text": decision["text"],
            }
            send_at = dt.datetime.fromisoformat(decision["send_at"])
            self._schedule(max(send_at, now), "confirm", key, payload)
        # A skipped step is not lost: the lead waits for its next step (Day 8 after Day 4).
        for _, state in due:
            if state.touches < len(FOLLOW_UP_DAYS) + 1 and state.first_touch_at is not None:
                nxt = [
                    d
                    for d in FOLLOW_UP_DAYS
                    if state.first_touch_at + dt.timedelta(days=d) > now + dt.timedelta(hours=24)
                ]
                if nxt and state.next_follow_up is None:
                    state.next_follow_up = state.first_touch_at + dt.timedelta(days=nxt[0])

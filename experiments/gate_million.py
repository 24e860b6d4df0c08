"""A million simulated sends through the compliance gate, every allowed one judged by the
simulator's independent checker (``optimizer.simulation.send_check``): it must find 0 violations.

Leads are drawn across every US area code with the split-zone codes (850, 448, 208, 986, 270,
541, 915, ...) and the states with their own rules (FL, OK, MD, TX, CT, AL, LA, MS, RI, KY, UT)
over-represented; some give an address state, some a different one from their number's. Their
candidate sends fall around the DST transitions and holidays of 2026 and on local hour
boundaries (±1 s); consent is granted on time, late, for another brand only, or never; some opt
out (STOP: revocation and suppression), some grant again afterwards (still suppressed); some
reply (the house policy's conversation waiver), some are on a Do-Not-Call registry copy, fresh
or stale; half the leads are under the legal policy, half under the house policy; the first
message of a sequence sometimes lacks opt-out wording or the brand, a few texts are not
marketing. Sends the gate allows become the lead's prior sends (caps).

The gate is asked through its vectorised form: per lead, the candidates between two changes of
the lead's history (a consent, an opt-out, a reply, an allowed send) are one ``allowed_masks``
call with the context as the store would build it at the first of them; the reasons of denied
sends come from the same time components the gate combines. Every ``verify_every``-th candidate
is also put to ``evaluate`` (the one-send path used at confirm): its answer must agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from optimizer.compliance import (
    ConsentEntry,
    DncCheck,
    GateContext,
    Reason,
    SuppressionStatus,
    evaluate,
    load_rules,
    policy_from_settings,
)
from optimizer.compliance.gate import allowed_masks
from optimizer.compliance.model import PolicyConfig
from optimizer.compliance.static_rules import consent_state
from optimizer.compliance.timerules import check_zones, components
from optimizer.phones import InvalidPhone, PhoneInfo, parse_phone
from optimizer.settings import Settings
from optimizer.simulation.geography import (
    DAY,
    HOUR,
    area_codes,
    candidate_zones,
    generate_phones,
)
from optimizer.simulation.send_check import (
    NEVER,
    SEND_VIOLATION_KINDS,
    LeadTruth,
    SendLog,
    check_sends,
    make_checker,
)

BRAND = "Acme Home Services"
OTHER_BRAND = "Other Brand Co"
FIRST = f"{BRAND}: thanks for your request! Reply STOP to opt out."
FIRST_NO_STOP = f"{BRAND}: thanks for your request, we will be in touch."
NO_BRAND = "Thanks for your request! Reply STOP to opt out."
FOLLOW = f"{BRAND}: still looking for a tune-up? 20% off this week."
SERVICE = f"{BRAND}: your appointment is confirmed for tomorrow."
SPLIT_CODES = (
    "850 448 208 986 270 364 423 812 930 219 906 541 458 620 785 308 915".split()  # noqa: SIM905
)
RULE_STATES = ("FL", "OK", "MD", "WA", "TX", "CT", "AL", "LA", "MS", "RI", "KY", "UT")
ADDRESS_STATES = ("AL", "RI", "TX", "KY", "FL", "MS", "LA", "CT", "OK", "MD", "GA", "TN", "ID")
# 2026: DST starts 8 Mar, ends 1 Nov; federal and state holidays (AL, LA ban holidays).
SPECIAL_DAYS = [
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-02-17",
    "2026-03-08",
    "2026-04-27",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-07-04",
    "2026-09-07",
    "2026-10-12",
    "2026-11-01",
    "2026-11-11",
    "2026-11-26",
    "2026-11-27",
    "2026-12-24",
    "2026-12-25",
    "2026-12-31",
]
YEAR_START = int(dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp())
YEAR_END = int(dt.datetime(2026, 12, 28, tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True)
class SimulatedLeads:
    truth: LeadTruth
    phones: np.ndarray
    policy_house: np.ndarray  # bool
    first_message: np.ndarray  # object
    marketing: np.ndarray  # bool (a lead's texts are all marketing or all service)
    other_brand_grant: np.ndarray  # bool: the ledger holds a grant for another brand only
    reply_at: np.ndarray
    dnc: np.ndarray  # 0 none, 1 listed (fresh copy), 2 stale copy, not listed
    candidates: np.ndarray  # (n, per_lead) epoch seconds, sorted per row
    created: np.ndarray


def simulate_leads(n: int, per_lead: int, seed: int) -> SimulatedLeads:
    rng = np.random.default_rng(seed)
    table = area_codes()
    codes = np.array(table.codes)
    states = np.array(table.states)
    split = np.flatnonzero(np.isin(codes, SPLIT_CODES))
    ruled = np.flatnonzero(np.isin(states, RULE_STATES))
    pick = rng.random(n)
    area = np.where(
        pick < 0.5,
        rng.choice(len(codes), size=n, p=table.weights),
        np.where(pick < 0.8, rng.choice(split, size=n), rng.choice(ruled, size=n)),
    ).astype(np.int64)
    phones = generate_phones(rng, area)
    zones = candidate_zones(phones, area)
    address: list[str | None] = [None] * n
    known = rng.random(n) < 0.35
    moved = rng.random(n) < 0.25
    for i in np.flatnonzero(known):
        address[i] = str(rng.choice(ADDRESS_STATES)) if moved[i] else str(states[area[i]])
    special = np.array(
        [int(dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC).timestamp()) for d in SPECIAL_DAYS]
    )
    anchor = np.where(
        rng.random(n) < 0.45,
        rng.choice(special, size=n) + rng.integers(-2 * DAY, 2 * DAY, size=n),
        rng.integers(YEAR_START, YEAR_END, size=n),
    )
    created = anchor - rng.integers(0, 2 * DAY, size=n)
    gaps = rng.exponential(4 * HOUR, size=(n, per_lead)).astype(np.int64) + 1
    cands = created[:, None] + 60 + np.cumsum(gaps, axis=1)
    edge = rng.random((n, per_lead)) < 0.3
    snapped = (cands // HOUR + rng.integers(0, 2, size=(n, per_lead))) * HOUR + rng.choice(
        np.array([-1, 0, 1]), size=(n, per_lead)
    )
    cands = np.sort(np.where(edge, snapped, cands), axis=1)

    kind = rng.random(n)  # consent: 88% on time, 4% late, 4% other brand only, 4% none
    grant = np.where(
        kind < 0.88,
        created,
        np.where(kind < 0.92, created + rng.integers(HOUR, 2 * DAY, size=n), NEVER),
    )
    other_brand = (kind >= 0.92) & (kind < 0.96)
    opted = (grant < NEVER) & (rng.random(n) < 0.10)
    opt_out = np.where(opted, grant + rng.integers(10 * 60, 4 * DAY, size=n), NEVER)
    regrant = np.where(
        opted & (rng.random(n) < 0.3), opt_out + rng.integers(HOUR, DAY, size=n), NEVER
    )
    replied = rng.random(n) < 0.3
    reply = np.where(replied, created + rng.integers(HOUR, 3 * DAY, size=n), NEVER)
    dnc = np.where(rng.random(n) < 0.05, 1, np.where(rng.random(n) < 0.01, 2, 0))
    msg = rng.random(n)
    first = np.where(msg < 0.9, FIRST, np.where(msg < 0.95, FIRST_NO_STOP, NO_BRAND))
    marketing = rng.random(n) >= 0.03
    truth = LeadTruth(
        area_idx=area,
        cand_zones=zones,
        address_state=np.array(address, dtype=object),
        grant_at=grant,
        opt_out_at=opt_out,
        regrant_at=regrant,
    )
    return SimulatedLeads(
        truth=truth,
        phones=phones,
        policy_house=rng.random(n) < 0.5,
        first_message=first.astype(object),
        marketing=marketing,
        other_brand_grant=other_brand,
        reply_at=reply,
        dnc=dnc,
        candidates=cands,
        created=created,
    )


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)


@dataclass
class GateRun:
    sends: int
    allowed: int
    denied: int
    denied_by_reason: Counter[str]
    allowed_lead: np.ndarray
    allowed_at: np.ndarray
    allowed_marketing: np.ndarray
    verified: int
    verify_mismatches: int
    gate_calls: int
    seconds: float


class _Gate:
    """The per-lead walk: history as of each segment, the gate over the segment's candidates."""

    def __init__(self, leads: SimulatedLeads, verify_every: int) -> None:
        settings = Settings(brand_name=BRAND)
        self.legal = policy_from_settings(settings, "legal")
        self.house = policy_from_settings(settings, "house")
        self.rules = load_rules()
        self.leads = leads
        self.verify_every = verify_every
        self.reasons: Counter[str] = Counter()
        self.lead_out: list[int] = []
        self.at_out: list[int] = []
        self.marketing_out: list[bool] = []
        self.verified = 0
        self.mismatches = 0
        self.calls = 0
        self.denied = 0

    def _phone(self, raw: str) -> tuple[PhoneInfo | None, str | None]:
        try:
            return parse_phone(raw), None
        except InvalidPhone as exc:
            return None, str(exc)

    def run_lead(self, i: int) -> None:
        L = self.leads
        t = L.truth
        phone, error = self._phone(str(L.phones[i]))
        policy: PolicyConfig = self.house if L.policy_house[i] else self.legal
        cands = L.candidates[i]
        marketing = bool(L.marketing[i])
        grant_brand = OTHER_BRAND if L.other_brand_grant[i] else BRAND
        grant_time = int(L.created[i]) if L.other_brand_grant[i] else int(t.grant_at[i])
        ledger = [(grant_time, "grant", grant_brand), (int(t.opt_out_at[i]), "revoke", None)]
        ledger.append((int(t.regrant_at[i]), "grant", BRAND))
        ledger = [e for e in ledger if e[0] < NEVER]
        changes = sorted({e[0] for e in ledger} | {int(t.opt_out_at[i]), int(L.reply_at[i])})
        dnc: tuple[DncCheck, ...] = ()
        if L.dnc[i] == 1:
            dnc = (DncCheck("national", True, 10),)
        elif L.dnc[i] == 2:
            dnc = (DncCheck("national", False, 45),)
        base = GateContext(
            phone=phone,
            send_at=_utc(int(cands[0])),
            message=str(L.first_message[i]),
            policy=policy,
            phone_raw=str(L.phones[i]),
            phone_error=error,
            address_state=t.address_state[i],
            dnc=dnc,
            marketing=marketing,
        )
        prior: list[dt.datetime] = []
        k = 0
        while k < len(cands):
            now = int(cands[k])
            nxt = next((c for c in changes if c > now), NEVER)
            end = k + int(np.searchsorted(cands[k:], nxt, side="left"))
            end = max(end, k + 1)
            first = not prior
            ctx = dataclasses.replace(
                base,
                send_at=_utc(now),
                message=(str(L.first_message[i]) if first else FOLLOW) if marketing else SERVICE,
                consents=tuple(
                    ConsentEntry(kind, _utc(at), brand, "web" if kind == "grant" else "sms")  # type: ignore[arg-type]
                    for at, kind, brand in ledger
                    if at <= now
                ),
                suppression=(
                    SuppressionStatus(_utc(int(t.opt_out_at[i])), "opt_out", "sms")
                    if t.opt_out_at[i] <= now
                    else None
                ),
                prior_sends=tuple(prior),
                last_reply_at=_utc(int(L.reply_at[i])) if L.reply_at[i] <= now else None,
                first_in_sequence=first,
            )
            segment = cands[k:end]
            pool = allowed_masks([ctx], (segment * 10**9).astype("datetime64[ns]"))
            self.calls += 1
            mask = pool.allowed[0]
            hits = np.flatnonzero(mask)
            stop = int(hits[0]) if hits.size else len(segment)
            if stop:
                self._count_denied(ctx, segment[:stop], pool.static_reasons[0])
            self._verify(ctx, segment, mask, i * len(cands) + k)
            if hits.size:
                at = int(segment[stop])
                self.lead_out.append(i)
                self.at_out.append(at)
                self.marketing_out.append(marketing)
                if marketing:
                    prior.append(_utc(at))
                k += stop + 1
            else:
                k = end

    def _count_denied(
        self, ctx: GateContext, denied: np.ndarray, static: tuple[Reason, ...]
    ) -> None:
        self.denied += len(denied)
        if static:
            for reason in static:
                self.reasons[reason.code] += len(denied)
            return
        problem = check_zones(ctx)
        if problem is not None:
            self.reasons["timezone.unknown"] += len(denied)
            return
        instants = denied.astype(np.int64) * 10**9
        for part in components(ctx, self.rules, instants, consent_state(ctx) == "valid"):
            failed = int((~part.ok).sum())
            if failed:
                self.reasons[part.code] += failed

    def _verify(
        self, ctx: GateContext, segment: np.ndarray, mask: np.ndarray, position: int
    ) -> None:
        """Every ``verify_every``-th candidate (over all leads) the mask decided: ``evaluate``."""
        if self.verify_every <= 0:
            return
        hits = np.flatnonzero(mask)
        decided = int(hits[0]) + 1 if hits.size else len(segment)
        for j in range(decided):
            if (position + j) % self.verify_every:
                continue
            verdict = evaluate(dataclasses.replace(ctx, send_at=_utc(int(segment[j]))))
            self.verified += 1
            if verdict.allowed != bool(mask[j]):
                self.mismatches += 1


def run_gate(leads: SimulatedLeads, sends: int, verify_every: int = 100) -> GateRun:
    gate = _Gate(leads, verify_every)
    started = time.perf_counter()
    per_lead = leads.candidates.shape[1]
    n_leads = -(-sends // per_lead)
    for i in range(n_leads):
        gate.run_lead(i)
    seconds = time.perf_counter() - started
    total = n_leads * per_lead
    return GateRun(
        sends=total,
        allowed=len(gate.at_out),
        denied=gate.denied,
        denied_by_reason=gate.reasons,
        allowed_lead=np.array(gate.lead_out, dtype=np.int64),
        allowed_at=np.array(gate.at_out, dtype=np.int64),
        allowed_marketing=np.array(gate.marketing_out, dtype=bool),
        verified=gate.verified,
        verify_mismatches=gate.mismatches,
        gate_calls=gate.calls,
        seconds=seconds,
    )


def _examples(
    leads: SimulatedLeads, run: GateRun, found: dict[str, np.ndarray], limit: int = 10
) -> list[dict[str, object]]:
    """The first violating sends, with what the checker saw (no phone number: its area code)."""
    table = area_codes()
    out: list[dict[str, object]] = []
    for kind in SEND_VIOLATION_KINDS:
        for j in np.flatnonzero(found[kind])[: limit - len(out)]:
            i = int(run.allowed_lead[j])
            zones = [table.zone_names[z] for z in leads.truth.cand_zones[i] if z >= 0]
            out.append(
                {
                    "kind": kind,
                    "lead": i,
                    "area_code": table.codes[int(leads.truth.area_idx[i])],
                    "exchange": str(leads.phones[i])[5:8],
                    "address_state": leads.truth.address_state[i],
                    "house_policy": bool(leads.policy_house[i]),
                    "at": _utc(int(run.allowed_at[j])).isoformat(),
                    "checker_zones": zones,
                }
            )
    return out


def million_sends(sends: int = 1_000_000, seed: int = 7, per_lead: int = 20) -> dict[str, object]:
    """Simulate, gate, check; the figures (violations must all be 0)."""
    started = time.perf_counter()
    n_leads = -(-sends // per_lead)
    leads = simulate_leads(n_leads, per_lead, seed)
    world_s = time.perf_counter() - started
    run = run_gate(leads, sends)
    check_started = time.perf_counter()
    found = check_sends(
        leads.truth,
        SendLog(run.allowed_lead, run.allowed_at, run.allowed_marketing),
        make_checker(),
    )
    check_s = time.perf_counter() - check_started
    violations = {kind: int(found[kind].sum()) for kind in SEND_VIOLATION_KINDS}
    examples = _examples(leads, run, found)
    split = np.isin(np.array(area_codes().codes)[leads.truth.area_idx], SPLIT_CODES)
    return {
        "scenario": "million-sends",
        "seed": seed,
        "sends": run.sends,
        "leads": n_leads,
        "split_zone_leads": int(split.sum()),
        "allowed": run.allowed,
        "denied": run.denied,
        "denied_by_reason": dict(run.denied_by_reason.most_common()),
        "violations": violations,
        "violation_count": sum(violations.values()),
        "violation_examples": examples,
        "evaluate_checked": run.verified,
        "evaluate_disagreements": run.verify_mismatches,
        "gate_calls": run.gate_calls,
        "gate_seconds": round(run.seconds, 2),
        "sends_per_second": round(run.sends / run.seconds) if run.seconds else None,
        "world_seconds": round(world_s, 2),
        "check_seconds": round(check_s, 2),
    }

"""Fill the gate's caches before the first request.

The gate reads holiday calendars per state and year and UTC-offset tables per zone through
caches; the first use of the holiday package alone costs about 0.1 s. ``warm_up`` evaluates a
context for every state and zone over the horizon from ``now``, so that the first decision for a
state does not pay for them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from optimizer.compliance.gate import allowed_mask, evaluate
from optimizer.compliance.model import GateContext, PolicyConfig
from optimizer.compliance.recipient import resolve_recipient
from optimizer.compliance.rules import load_rules
from optimizer.phones import InvalidPhone, PhoneInfo, parse_phone


def warm_up(now: dt.datetime, policy: PolicyConfig, horizon_hours: int = 72) -> int:
    """Evaluate one context per distinct (state, zones) of the North American area codes and
    one per state of the rules by address, over ``[now, now + horizon]`` (and the next-allowed
    search); the number of contexts evaluated."""
    rules = load_rules()
    start = np.datetime64(now.astimezone(dt.UTC).replace(tzinfo=None), "ns")
    slots = start + np.arange(horizon_hours) * np.timedelta64(1, "h")
    phones: dict[tuple[tuple[str, ...], tuple[str, ...]], PhoneInfo] = {}
    for code in range(200, 1000):
        try:
            phone = parse_phone(f"+1{code}5550123")
        except InvalidPhone:
            continue
        recipient = resolve_recipient(phone)
        phones.setdefault((recipient.states, recipient.zones), phone)
    contexts = [_context(phone, None, now, policy) for phone in phones.values()]
    any_phone = next(iter(phones.values()), None)
    contexts += [_context(any_phone, state, now, policy) for state in sorted(rules.states)]
    for context in contexts:
        allowed_mask(context, slots)
        evaluate(context)
    return len(contexts)


def _context(
    phone: PhoneInfo | None, state: str | None, now: dt.datetime, policy: PolicyConfig
) -> GateContext:
    return GateContext(
        phone=phone,
        send_at=now,
        message="warm-up",
        policy=policy,
        phone_raw=phone.e164 if phone is not None else "",
        address_state=state,
    )

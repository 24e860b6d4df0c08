"""Factories for gate contexts in tests."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from optimizer.compliance import ConsentEntry, GateContext, PolicyConfig, policy_from_settings
from optimizer.phones import parse_phone
from optimizer.settings import Settings

BRAND = "Acme Home Services"
GOOD_MESSAGE = f"{BRAND}: your tune-up is 20% off this week. Reply STOP to opt out."
CONSENT_AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
GRANT = ConsentEntry("grant", CONSENT_AT, BRAND, "web")


def policy(name: str = "legal") -> PolicyConfig:
    return policy_from_settings(Settings(brand_name=BRAND), name)


def local(zone: str, *args: int) -> dt.datetime:
    """An aware datetime at local wall time ``args`` in ``zone``."""
    return dt.datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def ctx(
    phone: str,
    send_at: dt.datetime,
    *,
    policy_name: str = "legal",
    message: str = GOOD_MESSAGE,
    consents: tuple[ConsentEntry, ...] = (GRANT,),
    **kwargs: object,
) -> GateContext:
    return GateContext(
        phone=parse_phone(phone),
        send_at=send_at,
        message=message,
        policy=policy(policy_name),
        phone_raw=phone,
        consents=consents,
        **kwargs,  # type: ignore[arg-type]
    )

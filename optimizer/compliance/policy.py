"""The two policies: ``legal`` (the floor) and ``house`` (legal plus configured, stricter limits)."""

from __future__ import annotations

from optimizer.compliance.model import PolicyConfig
from optimizer.errors import InvalidInput
from optimizer.settings import Settings

POLICY_NAMES = ("legal", "house")


def policy_from_settings(settings: Settings, name: str = "house") -> PolicyConfig:
    """Build a policy from ``Settings`` (house values, brand, DNC age, segment limits)."""
    if name == "legal":
        return PolicyConfig(
            name="legal",
            brand=settings.brand_name,
            max_segments=settings.legal_max_segments,
            dnc_max_age_days=settings.dnc_max_age_days,
            dnc_consent_exemption=True,
            dnc_waived=settings.dnc_waived,
            source="legal floor",
        )
    if name == "house":
        start, end = settings.house_window_start_hour, settings.house_window_end_hour
        if not (0 <= start < end <= 24):
            raise InvalidInput(
                f"house window {start}-{end} is not a window (0 <= start < end <= 24 expected; "
                "OPTIMIZER_HOUSE_WINDOW_START_HOUR / _END_HOUR)"
            )
        return PolicyConfig(
            name="house",
            brand=settings.brand_name,
            window=(start, end),
            max_per_24h=3,
            max_per_7d=settings.house_max_per_7d,
            max_per_30d=settings.house_max_per_30d,
            conversation_hours=settings.house_conversation_hours,
            max_segments=min(settings.house_max_segments, settings.legal_max_segments),
            dnc_max_age_days=settings.dnc_max_age_days,
            dnc_consent_exemption=False,
            dnc_waived=settings.dnc_waived,
            source="house policy",
        )
    raise InvalidInput(f"policy {name!r} is unknown (legal or house expected)")

"""The gate's caches are filled at start-up for every state and zone."""

from __future__ import annotations

import datetime as dt

from optimizer.compliance.banned_days import _holidays
from optimizer.compliance.localtime import offset_table
from optimizer.compliance.policy import policy_from_settings
from optimizer.compliance.rules import load_rules
from optimizer.compliance.warmup import warm_up
from optimizer.settings import Settings

NOW = dt.datetime(2027, 3, 10, 15, 0, tzinfo=dt.UTC)  # a year no other test reads
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)


def test_warm_up_covers_every_state_and_the_main_zones() -> None:
    settings = Settings()
    _holidays.cache_clear()
    offset_table.cache_clear()
    evaluated = warm_up(NOW, policy_from_settings(settings, "house"), horizon_hours=72)
    assert evaluated >= len(load_rules().states)
    # Every main zone's offsets for 2027 are already there: asking again only hits the cache.
    before = offset_table.cache_info()
    for zone in ZONES:
        offset_table(zone, 2026, 2028)  # the gate pads its years by one either side
    after = offset_table.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (len(ZONES), 0)
    # Holiday calendars of 2027 were built (for the states whose rules ban holidays).
    assert _holidays.cache_info().currsize > 0

"""One truth for a recipient's zones: the gate, the API's lead output, the decision and the
send-time model in training and in serving all read them from ``resolve_recipient``.

Before, an 850 number with no zone on the lead trained the send-time model on Chicago hours
(the first candidate alphabetically) and was served New York hours, and a Kentucky 270 number
was shown as New York only while the gate also enforced Chicago hours.
"""

from __future__ import annotations

import datetime as dt

import pytest

from optimizer.compliance.recipient import recipient_of
from optimizer.models.send_time_single import send_time_inputs
from optimizer.models.send_time_store import load_lead_features, store_frames
from optimizer.store.db import make_engine, session_factory
from tests.api.conftest import LiveServer
from tests.api.helpers import decide, new_lead

NOW = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)
SPLIT = [
    ("+18505550142", {"America/Chicago", "America/New_York"}, "America/New_York"),
    ("+14485550142", {"America/Chicago", "America/New_York"}, "America/New_York"),
    ("+12705550142", {"America/Chicago", "America/New_York"}, "America/New_York"),
    ("+12085550142", {"America/Boise", "America/Los_Angeles"}, "America/Boise"),
]


@pytest.mark.parametrize(("phone", "zones", "display"), SPLIT)
def test_split_area_code_zones_agree_everywhere(
    live_server: LiveServer, phone: str, zones: set[str], display: str
) -> None:
    with live_server.client("admin") as client:
        lead = new_lead(client, phone=phone, created_at=NOW - dt.timedelta(days=2))
        assert set(lead["timezones"]) == zones
        assert lead["timezone"] is None and lead["display_timezone"] == display
        decision = decide(client, lead["id"], NOW)
    assert decision["timezone"] == display
    assert set(recipient_of(phone).zones) == zones  # what the gate's context holds

    engine = make_engine(live_server.settings.resolved_database_url())
    with session_factory(engine)() as session:
        trained_leads, _events = store_frames(session)  # the training path
        _rows, served = load_lead_features(session, lead_ids=[lead["id"]], as_of=NOW)
        _single, single_zone = send_time_inputs(session, lead_id=lead["id"], as_of=NOW)
    engine.dispose()
    assert trained_leads.loc[lead["id"], "timezone"] == display
    assert list(served) == [display] and single_zone == display


def test_explicit_zone_and_home_state_decide_the_display_zone(live_server: LiveServer) -> None:
    with live_server.client("admin") as client:
        explicit = new_lead(
            client,
            phone="+18505550143",
            created_at=NOW - dt.timedelta(days=2),
            timezone="America/Chicago",
        )
        moved = new_lead(
            client, phone="+12125550143", created_at=NOW - dt.timedelta(days=2), state="CA"
        )
    assert explicit["display_timezone"] == "America/Chicago"
    assert set(explicit["timezones"]) == {"America/Chicago", "America/New_York"}
    # A New York number whose owner lives in California: the gate checks both zones, hours
    # are read in the one where the recipient lives.
    assert set(moved["timezones"]) == {"America/Los_Angeles", "America/New_York"}
    assert moved["states"] == ["CA", "NY"] and moved["display_timezone"] == "America/Los_Angeles"

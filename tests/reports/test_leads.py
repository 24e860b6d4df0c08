from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from optimizer.errors import NotFound
from optimizer.reports import lead_report
from optimizer.reports.leads import mask_phone
from tests.reports.factory import T0, Factory

H = dt.timedelta(hours=1)


def test_timeline_score_and_decisions(session: Session) -> None:
    f = Factory(session)
    experiment, (a, _b) = f.experiment()
    lead = f.lead(timezone="America/New_York", attributes={"first_name": "<b>Ann</b>"})
    f.event(lead, type="webchat", at=T0 - H, text="hi", channel="webchat")
    decision, _sent = f.send(lead, at=T0, variant=a)
    f.event(lead, type="call", at=T0 + H, channel="voice")
    f.event(lead, type="inbound", at=T0 + 2 * H, text="STOP", intent="opt_out")
    f.suppression(lead, reason="opt_out", at=T0 + 2 * H)
    f.decision(
        lead, at=T0 + 3 * H, action="suppress", reasons=("suppressed.opt_out",), score=81.0,
        segment="hot", explanation={"top_features": [{"feature": "sms_reply", "contribution": 0.4}]},
    )  # fmt: skip
    report = lead_report(session, lead_id=lead.id)
    assert [e.type for e in report.timeline] == ["inbound", "call", "sent", "webchat"]
    assert {e.channel for e in report.timeline} == {"sms", "voice", "webchat"}
    assert report.timeline[0].intent == "opt_out"
    assert report.suppressed and report.suppression_reason == "opt_out"
    assert report.score == 81.0 and report.segment == "hot"
    assert report.score_reasons[0].code == "sms_reply"
    assert report.score_reasons[0].message == "+0.400"
    # The decision service stores top features as [feature, contribution] pairs.
    pairs = lead_report(session, lead_id=f.lead().id)
    assert pairs.score is None and pairs.score_reasons == ()
    other = f.lead()
    f.send(other, at=T0)
    assert lead_report(session, lead_id=other.id).score_reasons[1].code == "sms_replies"
    newest, older = report.decisions
    assert newest.action == "suppress" and newest.reasons[0].code == "suppressed.opt_out"
    assert older.variant == f"{experiment.name} / A" and older.confirmed is True
    assert older.send_at_local is not None and older.send_at_local.endswith("EST")
    assert report.phone_masked.endswith(lead.phone_e164[-4:])
    assert lead.phone_e164 not in str(report.to_dict())
    assert ("first_name", "<b>Ann</b>") in report.attributes


def test_unknown_lead() -> None:
    class _NoRows:
        def get(self, *_args: object) -> None:
            return None

    with pytest.raises(NotFound, match="lead 42 does not exist"):
        lead_report(_NoRows(), lead_id=42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+13055550123", "+1••••••0123"), ("+4915112345678", "+4••••••••5678"), ("+1", "••")],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked

"""SMS providers' webhooks: Twilio (form-encoded, X-Twilio-Signature) and Telnyx (JSON,
Ed25519). No API key: each request is verified with the provider's own signature (403 when it
is missing, wrong or stale, or the provider's secret is not set), then applied in one unit of
work (docs/providers.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import StateDep, run_write, server_now
from api.errors import http_error
from api.requestlog import annotate
from api.state import AppState
from optimizer.providers import (
    Provider,
    TelnyxProvider,
    TwilioProvider,
    WebhookRejected,
    WebhookRequest,
    twiml,
)
from optimizer.providers.service import Applied, apply_records
from optimizer.store.db import Session

router = APIRouter(prefix="/v1/providers", tags=["providers"])

TWILIO_INBOUND = TwilioProvider("inbound")
TWILIO_STATUS = TwilioProvider("status")
TELNYX = TelnyxProvider()

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    }
}
_JSON = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_TWIML: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "TwiML: the opt-out confirmation or the HELP text, else an empty Response",
        "content": {"application/xml": {"schema": {"type": "string"}}},
    }
}


def _signed_url(request: Request, public_base_url: str) -> str:
    """The URL the provider signed: the public base URL plus the path (and query) when set,
    else the URL this request reached."""
    if not public_base_url:
        return str(request.url)
    query = request.url.query
    return public_base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def _apply(request: Request, state: AppState, provider: Provider) -> Applied:
    settings = state.settings
    hook = WebhookRequest(
        url=_signed_url(request, settings.public_base_url),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.body(),
    )
    try:
        provider.verify(hook, settings=settings, now=server_now())
    except WebhookRejected as exc:
        raise http_error(403, exc.code, exc.message, exc.field) from None
    records = provider.parse(hook)

    def work(session: Session) -> Applied:
        return apply_records(
            session,
            records,
            error_actions=provider.error_actions,
            settings=settings,
            clock=server_now,
        )

    applied = await run_write(state, work)
    leads = {r.lead_id for r in applied.inbound if r.lead_id} | {
        r.lead_id for r in applied.statuses if r.lead_id
    }
    decisions = {r.decision_id for r in applied.statuses if r.decision_id}
    annotate(
        provider=provider.name,
        lead_id=next(iter(leads)) if len(leads) == 1 else None,
        decision_id=next(iter(decisions)) if len(decisions) == 1 else None,
    )
    return applied


def _summary(applied: Applied) -> dict[str, Any]:
    return {
        "accepted": applied.accepted,
        "duplicates": applied.duplicates,
        "inbound": [
            {"lead_id": r.lead_id, "intent": r.intent, "reply": r.answer, "duplicate": r.duplicate}
            for r in applied.inbound
        ],
        "statuses": [
            {
                "status": r.status,
                "decision_id": r.decision_id,
                "lead_id": r.lead_id,
                "action": r.action,
                "duplicate": r.duplicate,
            }
            for r in applied.statuses
        ],
    }


@router.post("/twilio/inbound", response_class=Response, responses=_TWIML, openapi_extra=_FORM)
async def twilio_inbound(request: Request, state: StateDep) -> Response:
    """Twilio's incoming-message webhook: answered with TwiML (the opt-out confirmation or
    the HELP text when one is due, else an empty ``<Response/>``); idempotent by MessageSid."""
    applied = await _apply(request, state, TWILIO_INBOUND)
    return Response(twiml(applied.answer), media_type="application/xml")


@router.post("/twilio/status", openapi_extra=_FORM)
async def twilio_status(request: Request, state: StateDep) -> dict[str, Any]:
    """Twilio's status callback: stored once per (MessageSid, MessageStatus); a carrier error
    acts on the number or the decision's variant."""
    return _summary(await _apply(request, state, TWILIO_STATUS))


@router.post("/telnyx/webhook", openapi_extra=_JSON)
async def telnyx_webhook(request: Request, state: StateDep) -> dict[str, Any]:
    """Telnyx's messaging webhook: ``message.received``, ``message.sent``,
    ``message.finalized`` (other event types are acknowledged and ignored)."""
    return _summary(await _apply(request, state, TELNYX))

"""Leads, consents, revocations and the one timeline of every channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import IngestKey, ReadKey, ReadSessionDep, StateDep, run_write, server_now
from api.requestlog import annotate
from api.schemas import (
    ActionOut,
    ConsentIn,
    ConsentOut,
    IdPath,
    LeadIn,
    LeadOut,
    LeadsOut,
    RevocationIn,
    RevocationOut,
)
from optimizer.compliance.recipient import resolve_recipient
from optimizer.ingest.events import is_suppressed, record_revocation
from optimizer.ingest.leads import ConsentInput, LeadInput, add_consent, get_lead, upsert_lead
from optimizer.ingest.timeline import lead_timeline
from optimizer.phones import parse_phone, to_e164
from optimizer.store.db import Session
from optimizer.store.locks import lock_numbers
from optimizer.store.models import Lead
from optimizer.store.provider_messages import leads_of_number
from optimizer.timebounds import check_time, clamp_opt_out_time

router = APIRouter(prefix="/v1/leads", tags=["leads"])


def lead_out(lead: Lead, changed: tuple[str, ...] = ()) -> LeadOut:
    phone = parse_phone(lead.phone_e164)
    recipient = resolve_recipient(phone, lead.timezone, lead.state)
    return LeadOut(
        id=lead.id,
        external_id=lead.external_id,
        phone_e164=lead.phone_e164,
        phone_type=phone.number_type,
        state=lead.state or phone.state,
        states=list(recipient.states),
        timezone=lead.timezone,
        timezones=list(recipient.zones),
        display_timezone=recipient.display_zone,
        email=lead.email,
        postal_code=lead.postal_code,
        source=lead.source,
        vertical=lead.vertical,
        attributes=lead.attributes or {},
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        changed=list(changed),
    )


@router.post("", status_code=201, response_model=LeadOut)
async def create_lead(
    body: LeadIn, response: Response, state: StateDep, _key: IngestKey
) -> LeadOut:
    """Create a lead (201), or return the existing one with the same external id (200)."""
    now = server_now()
    if body.created_at is not None:
        body.created_at = check_time(
            body.created_at, field="created_at", settings=state.settings, now=now
        )

    def work(session: Session) -> tuple[bool, LeadOut]:
        result = upsert_lead(session, data=LeadInput(**body.model_dump()), now=now)
        return result.created, lead_out(result.lead, result.changed)

    created, out = await run_write(state, work)
    annotate(lead_id=out.id)
    if not created:
        response.status_code = 200
    return out


@router.get("", response_model=LeadsOut)
def find_leads(
    phone: Annotated[str, Query(min_length=1, max_length=40, description="Any US or E.164 form")],
    session: ReadSessionDep,
    _key: ReadKey,
) -> LeadsOut:
    """The leads with this phone number (normalised to E.164 first), oldest first."""
    e164 = to_e164(phone)
    return LeadsOut(
        phone_e164=e164, leads=[lead_out(lead) for lead in leads_of_number(session, e164)]
    )


@router.get("/{lead_id}", response_model=LeadOut)
def read_lead(lead_id: IdPath, session: ReadSessionDep, _key: ReadKey) -> LeadOut:
    return lead_out(get_lead(session, lead_id))


@router.post("/{lead_id}/consents", status_code=201, response_model=ConsentOut)
async def create_consent(
    lead_id: IdPath, body: ConsentIn, state: StateDep, _key: IngestKey
) -> ConsentOut:
    """Append a prior-express-written-consent record to the ledger."""
    settings = state.settings
    body.granted_at = check_time(
        body.granted_at, field="granted_at", settings=settings, now=server_now()
    )

    def work(session: Session) -> ConsentOut:
        lead = get_lead(session, lead_id)
        now = server_now()
        if settings.simulation:  # a simulated clock may run ahead of the server's
            now = max(now, body.granted_at.astimezone(now.tzinfo))
        row = add_consent(session, lead=lead, data=ConsentInput(**body.model_dump()), now=now)
        return ConsentOut(
            id=row.id,
            lead_id=lead.id,
            kind=row.kind,
            brand=row.brand,
            occurred_at=row.occurred_at,
            method=row.method,
            disclosure_hash=row.disclosure_hash,
        )

    return await run_write(state, work)


@router.post("/{lead_id}/revocations", status_code=201, response_model=RevocationOut)
async def create_revocation(
    lead_id: IdPath, body: RevocationIn, state: StateDep, _key: IngestKey
) -> RevocationOut:
    """Revoke consent by any reasonable means: the number is suppressed at once, every channel.
    A revocation is never refused for its time: dated ahead, it takes effect now."""
    settings = state.settings

    def work(session: Session) -> RevocationOut:
        lead = get_lead(session, lead_id)
        lock_numbers(session, [lead.phone_e164])
        now = server_now()  # after the lock: a confirm waiting for this number comes after
        action = record_revocation(
            session,
            lead=lead,
            at=clamp_opt_out_time(body.at, field="at", settings=settings, now=now),
            channel=body.channel,
            text=body.text,
            rule="api.revocation",
            settings=settings,
            now=now,
        )
        actions = [ActionOut(**vars_of(action))] if action else []
        return RevocationOut(
            lead_id=lead.id, suppressed=is_suppressed(session, lead.phone_e164), actions=actions
        )

    return await run_write(state, work)


@router.get("/{lead_id}/timeline")
def read_timeline(lead_id: IdPath, session: ReadSessionDep, _key: ReadKey) -> dict[str, object]:
    """Every event of every channel, consents, suppressions and decisions: one timeline."""
    lead = get_lead(session, lead_id)
    return {
        "lead": lead_out(lead).model_dump(mode="json"),
        "timeline": lead_timeline(session, lead=lead),
    }


def vars_of(action: object) -> dict[str, object]:
    return {
        name: getattr(action, name) for name in ("type", "lead_id", "phone_e164", "text", "reason")
    }

"""Small builders for API tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx

_ids = itertools.count(1)

DISCLOSURE = (
    "By checking this box I agree to receive recurring automated marketing texts from Acme Dental "
    "at the number provided. Consent is not a condition of purchase. Msg & data rates may apply. "
    "Reply STOP to opt out."
)
TEMPLATE = "Acme Dental: hi {first_name}, your cleaning is one tap away. Reply STOP to opt out."


def iso(at: dt.datetime) -> str:
    return at.isoformat()


def new_lead(
    client: httpx.Client,
    *,
    phone: str,
    created_at: dt.datetime,
    consent: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "external_id": f"lead-{next(_ids)}",
        "phone": phone,
        "attributes": {"first_name": "Ana"},
        "created_at": iso(created_at),
        **fields,
    }
    response = client.post("/v1/leads", json=body)
    assert response.status_code == 201, response.text
    lead = response.json()
    if consent:
        granted = client.post(
            f"/v1/leads/{lead['id']}/consents",
            json={
                "granted_at": iso(created_at - dt.timedelta(seconds=5)),
                "method": "web",
                "brand": "Acme Dental",
                "disclosure": DISCLOSURE,
                "evidence": {"page_url": "https://acme.example/form", "ip": "203.0.113.7"},
            },
        )
        assert granted.status_code == 201, granted.text
    return lead


def decide(client: httpx.Client, lead_id: int, as_of: dt.datetime, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"lead_id": lead_id, "as_of": iso(as_of), **extra}
    if "experiment_id" not in extra and "template" not in extra:
        body["template"] = TEMPLATE
    response = client.post("/v1/next-best-action", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def new_experiment(
    client: httpx.Client, *, name: str, metric: str, policy: str = "thompson"
) -> dict[str, Any]:
    """A two-variant experiment (A: ``TEMPLATE``, B: a one-word variation of it)."""
    response = client.post(
        "/v1/experiments",
        json={
            "name": name,
            "metric": metric,
            "policy": policy,
            "variants": [
                {"name": "A", "template": TEMPLATE},
                {"name": "B", "template": TEMPLATE.replace("one tap", "a tap")},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]

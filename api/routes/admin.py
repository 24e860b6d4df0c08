"""Models in use, readiness, compliance audit over JSON, run-time banned dates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import AdminKey, ReadKey, SettingsDep, StateDep, run_write, server_now
from api.schemas import AuditIn, BannedDateIn, IdPath
from optimizer.store.db import Session, ping, transaction

router = APIRouter(tags=["admin"])


@router.get("/readyz")
def readyz(state: StateDep) -> JSONResponse:
    """``ready`` (200) when the database answers and every model loaded (or has no champion and
    its baseline answers by design); ``degraded`` (200) when a model failed to load and its
    baseline answers meanwhile (``checks.fallbacks`` says why): decisions are still served and
    still pass the gate, so a load balancer should keep sending traffic; ``not_ready`` (503)
    when the database does not answer."""
    checks: dict[str, Any] = {}
    try:
        ping(state.engine)
        checks["database"] = "ok"
    except Exception as exc:  # readiness must answer, not raise
        checks["database"] = (
            f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        )
    fallbacks: dict[str, str] = {}
    try:
        service = state.decisions()
        checks["models"] = service.models.versions()
        fallbacks = dict(service.models.failures)
    except Exception as exc:  # readiness must answer, not raise
        checks["models"] = f"error: {exc}"
    if fallbacks:
        checks["fallbacks"] = fallbacks
    if checks["database"] != "ok":
        status, code = "not_ready", 503
    elif fallbacks or not isinstance(checks["models"], dict):
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    return JSONResponse({"status": status, "checks": checks}, status_code=code)


@router.get("/v1/models")
def models_in_use(state: StateDep, _key: ReadKey) -> dict[str, Any]:
    """The champion versions the decision service is using (or the baselines)."""
    return {"models": state.decisions().models.versions()}


@router.post("/v1/models/reload")
def reload_models(state: StateDep, _key: AdminKey) -> dict[str, Any]:
    """Load the current champions again (after a promotion)."""
    return {"models": state.reload_models().models.versions()}


@router.get("/v1/keys")
def keys_list(state: StateDep, _key: AdminKey) -> dict[str, Any]:
    """Every API key: id, name, scopes, when created and revoked (never the key or its hash)."""
    from optimizer.ingest.keys import key_summary, list_keys

    with state.sessions() as session:
        return {"keys": [key_summary(row) for row in list_keys(session)]}


@router.post("/v1/keys/{key_id}/revoke")
def keys_revoke(key_id: IdPath, state: StateDep, _key: AdminKey) -> dict[str, Any]:
    """Revoke a key: it stops working at once in this server process (and its UI sessions
    everywhere); other processes drop their cached verification within key_cache_seconds."""
    from optimizer.ingest.keys import key_summary, revoke_key

    with state.writer_turn(), transaction(state.write_sessions) as session:
        row = revoke_key(session, key_id, now=server_now())
        body = key_summary(row)
    # After the commit: a request verifying the key from now on finds it revoked.
    state.keys.drop(key_id)
    return body


@router.post("/v1/compliance/audit")
def audit(body: AuditIn, settings: SettingsDep, _key: ReadKey) -> dict[str, Any]:
    """The audit engine of `optimizer compliance audit`, over JSON rows."""
    from optimizer.compliance.audit import audit_rows

    rows = [
        {k: _cell(v) for k, v in row.model_dump().items() if v is not None} for row in body.rows
    ]
    results = audit_rows(rows, settings=settings, policy=body.policy, brand=body.brand)
    return {
        "rows": results,
        "allowed": sum(1 for r in results if r["allowed"] == "true"),
        "total": len(results),
    }


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@router.post("/v1/compliance/banned-dates", status_code=201)
async def add_banned_date(body: BannedDateIn, state: StateDep, _key: AdminKey) -> dict[str, Any]:
    """Add a banned day for a state (a governor-declared holiday, an emergency)."""
    from optimizer.store.banned_dates import add_banned_date as add

    def work(session: Session) -> dict[str, Any]:
        row = add(session, state=body.state, day=body.date, reason=body.reason, now=server_now())
        return {
            "id": row.id,
            "state": row.state,
            "date": row.day.isoformat(),
            "reason": row.reason,
        }

    return await run_write(state, work)

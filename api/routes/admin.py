"""Models in use, readiness, compliance audit over JSON, run-time banned dates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.deps import AdminKey, ReadKey, SettingsDep, StateDep, run_write, server_now
from api.schemas import AuditIn, BannedDateIn

router = APIRouter(tags=["admin"])


@router.get("/readyz")
def readyz(state: StateDep) -> JSONResponse:
    """Ready when the database answers and the models are loaded."""
    checks: dict[str, Any] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness must answer, not raise
        checks["database"] = (
            f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        )
    try:
        checks["models"] = state.decisions().models.versions()
    except Exception as exc:  # a model that cannot load makes the service not ready
        checks["models"] = f"error: {exc}"
    ok = checks["database"] == "ok" and isinstance(checks["models"], dict)
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/v1/models")
def models_in_use(state: StateDep, _key: ReadKey) -> dict[str, Any]:
    """The champion versions the decision service is using (or the baselines)."""
    return {"models": state.decisions().models.versions()}


@router.post("/v1/models/reload")
def reload_models(state: StateDep, _key: AdminKey) -> dict[str, Any]:
    """Load the current champions again (after a promotion)."""
    return {"models": state.reload_models().models.versions()}


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
    from optimizer.compliance.banned_days import add_banned_date as add

    def work(session: Session) -> dict[str, Any]:
        row = add(session, state=body.state, day=body.date, reason=body.reason, now=server_now())
        return {
            "id": row.id,
            "state": row.state,
            "date": row.day.isoformat(),
            "reason": row.reason,
        }

    return await run_write(state, work)

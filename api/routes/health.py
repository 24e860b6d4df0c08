"""Open health endpoints: liveness with the database and schema version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.state import AppState
from optimizer import __version__
from optimizer.store.db import current_revision, head_revision, ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Reports the database backend, whether it answers, and its schema revision."""
    state: AppState = request.app.state.optimizer
    database: dict[str, object] = {"backend": state.engine.dialect.name}
    ok = True
    try:
        ping(state.engine)
        revision = current_revision(state.engine)
        database.update(ok=True, schema_revision=revision, schema_head=head_revision())
        ok = revision == head_revision()
    except Exception as exc:  # health must answer even when the database does not
        database.update(
            ok=False, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        )
        ok = False
    body = {"status": "ok" if ok else "degraded", "version": __version__, "database": database}
    return JSONResponse(body, status_code=200 if ok else 503)

"""A bare FastAPI app with one POST endpoint: the reference point of the API benchmark.

Served by uvicorn with the settings ``optimizer serve`` uses (factory, one worker, log level
warning), measured by the same open-loop client: what the HTTP stack alone costs on this machine.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel


class Body(BaseModel):
    lead_id: int
    experiment_id: int | None = None
    as_of: str | None = None


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/next-best-action")
    def next_best_action(body: Body) -> dict[str, object]:
        return {"lead_id": body.lead_id, "action": "hold"}

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app

"""JSON responses serialised straight from a response model.

A route that returns a pydantic model has FastAPI validate it again against ``response_model``
— for a plain ``def`` route on another trip to the thread pool — before serialising it. The
hot routes build their response model (validated on construction) and return it serialised;
``response_model`` on the route still documents the shape in OpenAPI.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        content=model.model_dump_json(), status_code=status_code, media_type="application/json"
    )

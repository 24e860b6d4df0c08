"""Every route of the app is requested by the PostgreSQL half of this suite.

The test servers (tests/api/conftest.py ``serve``) record the (method, route template) pairs
they answered, per store. The last test of the session compares the PostgreSQL half's pairs
with every route the app has (``app.routes``, the OpenAPI schema's and the hidden ones: the
pages under /ui, /metrics, the docs). The pages and docs, which no other test here requests,
are requested below on both stores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute

from api.app import create_app
from api.routes.ui import STATIC_DIR
from optimizer.settings import Settings
from tests.api.conftest import ANSWERED, LiveServer
from tests.api.helpers import new_experiment, new_lead
from tests.pg_server import find_bin_dir

NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)  # Tuesday 14:00 in New York
API_TESTS = Path(__file__).resolve().parent
# Routes the PostgreSQL half may leave out, each with the reason. (None today.)
EXCLUDED: dict[tuple[str, str], str] = {}


def app_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, through included routers; HEAD (answered by a
    GET route) left out."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's included router: its routes carry their prefix
            context = route.include_context  # type: ignore[attr-defined]
            yield from app_routes(included.routes, prefix + context.prefix)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, prefix + route.path  # type: ignore[attr-defined]


def test_ui_pages_static_files_and_docs_answer(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0144", created_at=NOW)
        experiment = new_experiment(client, name="pages", metric="reply")
    static = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
    assert static, f"no static file in {STATIC_DIR}"
    with httpx.Client(base_url=live_server.base_url, timeout=30) as browser:
        assert browser.get("/ui").status_code == 303
        assert browser.get("/ui/login").status_code == 200
        login = browser.post(
            "/ui/login", data={"key": live_server.keys["read"], "next": "/ui/health"}
        )
        assert login.status_code == 303, login.text
        assert login.headers["location"] == "/ui/health"
        for page in (
            "/ui/experiments",
            f"/ui/experiments/{experiment['id']}",
            "/ui/health?period=7d",
            "/ui/segments",
            "/ui/attribution",
            "/ui/leads?q=lead",
            f"/ui/leads/{lead['id']}",
            f"/ui/static/{static[0]}",
        ):
            answer = browser.get(page)
            assert answer.status_code == 200, (page, answer.text[:300])
        assert browser.post("/ui/logout").status_code == 303
        assert browser.get("/ui/health").status_code == 303  # the session is gone
        for page in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
            assert browser.get(page).status_code == 200, page
        schema: dict[str, Any] = browser.get("/openapi.json").json()
        assert "/v1/next-best-action" in schema["paths"]


def test_experiment_listing_and_model_reload(live_server: LiveServer) -> None:
    with live_server.client() as admin:
        made = new_experiment(admin, name="listed", metric="reply")
        reloaded = admin.post("/v1/models/reload")
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["models"] == admin.get("/v1/models").json()["models"]
    with live_server.client("read") as reader:
        listing = reader.get("/v1/reports/experiments")
        assert listing.status_code == 200, listing.text
        assert made["id"] in [e["id"] for e in listing.json()["experiments"]]
        assert reader.post("/v1/models/reload").status_code == 403  # admin only


def _whole_suite_ran(request: pytest.FixtureRequest) -> str | None:
    """Why the comparison would mean nothing in this session, or None."""
    if find_bin_dir() is None:
        return "no PostgreSQL server binaries: the PostgreSQL half did not run"
    option = request.config.option
    if any(getattr(option, name, None) for name in ("keyword", "markexpr", "lf", "deselect")):
        return "tests were selected (-k, -m, --lf or --deselect): run all of tests/api"
    ran = {Path(item.path).resolve() for item in request.session.items}
    missing = sorted(p.name for p in API_TESTS.glob("test_*.py") if p.resolve() not in ran)
    if missing:
        return f"not all of tests/api was collected (missing {', '.join(missing)})"
    return None


@pytest.mark.postgres
def test_every_route_is_requested_on_postgresql(request: pytest.FixtureRequest) -> None:
    """Placed last in the session (conftest's pytest_collection_modifyitems)."""
    reason = _whole_suite_ran(request)
    if reason:
        pytest.skip(reason)
    routes = set(app_routes(create_app(Settings()).routes))
    assert set(EXCLUDED) <= routes, "an exclusion names a route the app no longer has"
    assert ("POST", "/v1/next-best-action") in routes and ("GET", "/ui/health") in routes
    never = sorted(routes - ANSWERED["postgresql"] - set(EXCLUDED))
    assert not never, f"routes no test requested on PostgreSQL: {never}"

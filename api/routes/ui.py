"""Pages for marketers under /ui: server-rendered, no JavaScript, every asset served here.

Access: the login form takes a key with the ``read`` scope once and opens a server-side session:
the ``HttpOnly``, ``SameSite=Strict`` cookie holds the session's random token (stored hashed,
12 h), never the key; logout deletes the session, and revoking the key ends it. A page
requested without one redirects to the form. Output is escaped
by Jinja2's autoescaping, and a strict Content-Security-Policy forbids scripts altogether.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from api.deps import ReadSessionDep, StateDep, authenticate, server_now
from api.state import AppState
from optimizer import reports
from optimizer.errors import InvalidInput, NotFound, OptimizerError
from optimizer.ingest.keys import KeyIdentity, has_scope, verify_key
from optimizer.ingest.ui_sessions import create_session, end_session, session_identity
from optimizer.reports import charts
from optimizer.store import leads_repo
from optimizer.store.db import transaction

API_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = API_DIR / "templates"
STATIC_DIR = API_DIR / "static"
COOKIE_MAX_AGE = 12 * 3600
SESSION_COOKIE = "optimizer_session"
DEFAULT_PAGE = "/ui/experiments"
HANDOFFS_PER_PAGE = 50
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False)


# ---- formatting filters (templates only format; numbers come from optimizer.reports) ----


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _signed_pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:+.{digits}f}%"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    env.filters.update(pct=_pct, signed_pct=_signed_pct, money=_money, num=_num, when=_when)
    return env


templates = Jinja2Templates(env=_environment())


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    response = templates.TemplateResponse(
        request, name, {"nav": _nav_active(request), **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def _nav_active(request: Request) -> str:
    parts = request.url.path.split("/")
    return parts[2] if len(parts) > 2 else ""


def _svg(chart: charts.Chart) -> Markup:
    # The SVG is built by optimizer.reports.svg, which escapes every label it writes.
    return Markup(chart.svg)


# ---- access ----


def _safe_next(target: str | None) -> str:
    """Only our own pages are valid targets after login (no open redirect)."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return DEFAULT_PAGE


def _viewer(request: Request, state: AppState) -> KeyIdentity:
    key = authenticate(request, state, allow_cookie=False)
    token = request.cookies.get(SESSION_COOKIE)
    if key is None and token:
        with state.sessions() as session:
            key = session_identity(session, token, now=server_now())
    if key is None or not has_scope(key, "read"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            status_code=303,
            detail="login required (a key with the 'read' scope)",
            headers={"Location": f"/ui/login?next={quote(target, safe='')}"},
        )
    return key


@router.get("", include_in_schema=False)
def index() -> RedirectResponse:
    return RedirectResponse(DEFAULT_PAGE, status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = DEFAULT_PAGE) -> Response:
    return _page(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    key: Annotated[str, Form(max_length=500)],
    next: Annotated[str, Form(max_length=2000)] = DEFAULT_PAGE,
) -> Response:
    with state.sessions() as session:
        row = verify_key(session, key.strip())
        allowed = row is not None and has_scope(row, "read")
        key_id = row.id if row is not None else None
    if not allowed or key_id is None:
        return _page(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "error": "That key is not valid or lacks the 'read' scope.",
            },
            status_code=401,
        )
    with transaction(state.write_sessions) as session:
        token = create_session(
            session,
            api_key_id=key_id,
            now=server_now(),
            ttl=dt.timedelta(seconds=COOKIE_MAX_AGE),
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, state: StateDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with transaction(state.write_sessions) as session:
            end_session(session, token)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    allowed = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    if name not in allowed:
        raise HTTPException(status_code=404, detail=f"static file {name!r} does not exist")
    return FileResponse(allowed[name], headers={"Cache-Control": "max-age=3600"})


# ---- pages ----


def _period_context(
    session: ReadSessionDep, period: str, start: dt.date | None, end: dt.date | None
) -> tuple[reports.Period, dict[str, Any]]:
    span = reports.data_span(session)
    try:
        chosen = reports.resolve_period(span, preset=period, start=start, end=end)
    except InvalidInput:
        chosen = reports.resolve_period(span, preset="all")
        period = "all"
    custom = start is not None or end is not None
    return chosen, {
        "period": chosen,
        "preset": "custom" if custom else (period or "all"),
        "start_day": chosen.start.date().isoformat(),
        "end_day": (chosen.end - dt.timedelta(microseconds=1)).date().isoformat(),
        "span": span,
    }


PresetQuery = Annotated[str, Query(max_length=10)]


@router.get("/experiments")
def experiments_page(request: Request, state: StateDep, session: ReadSessionDep) -> Response:
    _viewer(request, state)
    listing = reports.experiment_list(session)
    return _page(request, "experiments.html", {"listing": listing})


@router.get("/experiments/{experiment_id}")
def experiment_page(
    experiment_id: int, request: Request, state: StateDep, session: ReadSessionDep
) -> Response:
    _viewer(request, state)
    try:
        report = reports.experiment_report(session, experiment_id=experiment_id)
    except OptimizerError as exc:
        status = 404 if isinstance(exc, NotFound) else 422
        return _page(request, "not_found.html", {"message": exc.message}, status_code=status)
    return _page(
        request,
        "experiment.html",
        {"report": report, "charts": [(c, _svg(c)) for c in charts.experiment_charts(report)]},
    )


@router.get("/health")
def health_page(
    request: Request,
    state: StateDep,
    session: ReadSessionDep,
    period: PresetQuery = "all",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Response:
    _viewer(request, state)
    chosen, context = _period_context(session, period, start, end)
    report = reports.list_health(session, period=chosen)
    return _page(
        request,
        "health.html",
        {
            **context,
            "report": report,
            "charts": [(c, _svg(c)) for c in charts.health_charts(report)],
            "gauge": _svg(charts.opt_out_gauge(report)),
        },
    )


@router.get("/handoffs")
def handoffs_page(
    request: Request,
    state: StateDep,
    session: ReadSessionDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    _viewer(request, state)
    page = reports.handoff_list(session, limit=HANDOFFS_PER_PAGE, offset=offset)
    return _page(request, "handoffs.html", {"page": page})


@router.get("/segments")
def segments_page(
    request: Request,
    state: StateDep,
    session: ReadSessionDep,
    period: PresetQuery = "all",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Response:
    _viewer(request, state)
    chosen, context = _period_context(session, period, start, end)
    report = reports.segment_breakdown(session, period=chosen)
    segment_charts = charts.segment_charts(report)
    return _page(
        request,
        "segments.html",
        {
            **context,
            "report": report,
            "breakdowns": [(b, _svg(segment_charts[b.dimension])) for b in report.breakdowns],
        },
    )


@router.get("/attribution")
def attribution_page(
    request: Request,
    state: StateDep,
    session: ReadSessionDep,
    period: PresetQuery = "all",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Response:
    _viewer(request, state)
    chosen, context = _period_context(session, period, start, end)
    report = reports.attribution(session, period=chosen)
    return _page(
        request,
        "attribution.html",
        {
            **context,
            "report": report,
            "charts": [(c, _svg(c)) for c in charts.attribution_charts(report)],
        },
    )


@router.get("/leads")
def lead_lookup(
    request: Request,
    state: StateDep,
    session: ReadSessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Find a lead by id or external id."""
    _viewer(request, state)
    query = q.strip()
    lead_id = None
    if query:
        found = leads_repo.lead_by_external_id(session, external_id=query)
        if found is None and query.isdigit():
            found = leads_repo.lead_by_id(session, int(query))
        lead_id = found.id if found is not None else None
    if lead_id is not None:
        return RedirectResponse(f"/ui/leads/{lead_id}", status_code=303)
    return _page(request, "lead_lookup.html", {"q": query, "missing": bool(query)})


@router.get("/leads/{lead_id}")
def lead_page(lead_id: int, request: Request, state: StateDep, session: ReadSessionDep) -> Response:
    _viewer(request, state)
    try:
        report = reports.lead_report(session, lead_id=lead_id)
    except NotFound as exc:
        return _page(request, "not_found.html", {"message": exc.message}, status_code=404)
    return _page(request, "lead.html", {"report": report})

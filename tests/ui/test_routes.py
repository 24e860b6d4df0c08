"""The pages and JSON reports over HTTP (no browser): access, escaping, headers, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.reports.factory import XSS_NAME
from tests.ui.conftest import Site

PAGES = (
    "/ui/experiments",
    "/ui/experiments/{experiment_id}",
    "/ui/health",
    "/ui/health?period=7d",
    "/ui/health?start=2026-03-02&end=2026-03-08",
    "/ui/segments?period=30d",
    "/ui/attribution",
    "/ui/leads",
    "/ui/leads/{lead_id}",
)


def _path(site: Site, template: str) -> str:
    return template.format(experiment_id=site.world.experiment_id, lead_id=site.world.lead_ids[1])


def _login(client: TestClient, key: str, next_page: str = "/ui/experiments") -> None:
    response = client.post("/ui/login", data={"key": key, "next": next_page})
    assert response.status_code == 303, response.text


@pytest.mark.parametrize("template", PAGES)
def test_pages_redirect_to_the_form_without_a_key(
    client: TestClient, site: Site, template: str
) -> None:
    response = client.get(_path(site, template))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=%2Fui%2F")


def test_login_sets_a_strict_httponly_cookie_and_returns_to_the_page(
    client: TestClient, site: Site
) -> None:
    response = client.post("/ui/login", data={"key": site.read_key, "next": "/ui/health"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/health"
    cookie = response.headers["set-cookie"].lower()
    assert "optimizer_session=" in cookie
    assert site.read_key.lower() not in cookie  # a session token, never the key
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    assert client.get("/ui/health").status_code == 200


@pytest.mark.parametrize(
    ("key_name", "status"), [("wrong", 401), ("decide_key", 401), ("admin_key", 303)]
)
def test_login_needs_a_key_with_read_scope(
    client: TestClient, site: Site, key_name: str, status: int
) -> None:
    key = getattr(site, key_name, "sk_0000_not-a-key")
    response = client.post("/ui/login", data={"key": key})
    assert response.status_code == status
    if status == 401:
        assert "not valid or lacks the &#39;read&#39; scope" in response.text
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "/v1/reports/health"]
)
def test_no_open_redirect_after_login(client: TestClient, site: Site, target: str) -> None:
    response = client.post("/ui/login", data={"key": site.read_key, "next": target})
    assert response.headers["location"] == "/ui/experiments"


@pytest.mark.parametrize("template", PAGES)
def test_pages_render_with_security_headers(client: TestClient, site: Site, template: str) -> None:
    _login(client, site.read_key)
    response = client.get(_path(site, template))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script" not in response.text.lower()


def test_script_variant_is_escaped_everywhere(client: TestClient, site: Site) -> None:
    _login(client, site.read_key)
    for template in ("/ui/experiments/{experiment_id}", "/ui/segments", "/ui/attribution"):
        text = client.get(_path(site, template)).text
        assert XSS_NAME not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_experiment_page_shows_verdict_and_one_row_per_variant(
    client: TestClient, site: Site
) -> None:
    _login(client, site.read_key)
    text = client.get(f"/ui/experiments/{site.world.experiment_id}").text
    assert text.count('<tr class="variant') == 3
    assert 'id="verdict"' in text and "Keep running" in text
    assert text.count('class="chart"') == 3


def test_logout_clears_the_cookie(client: TestClient, site: Site) -> None:
    _login(client, site.read_key)
    response = client.post("/ui/logout")
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert 'optimizer_session=""' in response.headers["set-cookie"] or "max-age=0" in (
        response.headers["set-cookie"].lower()
    )
    assert client.get("/ui/health").status_code == 303


def test_lookup_and_missing_pages(client: TestClient, site: Site) -> None:
    _login(client, site.read_key)
    found = client.get("/ui/leads", params={"q": str(site.world.lead_ids[0])})
    assert found.headers["location"] == f"/ui/leads/{site.world.lead_ids[0]}"
    assert "No lead with id" in client.get("/ui/leads", params={"q": "nope"}).text
    assert client.get("/ui/leads/999999").status_code == 404
    assert client.get("/ui/experiments/999999").status_code == 404
    assert client.get("/ui/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/..%2Fapp.py").status_code == 404
    assert client.get("/ui/static/missing.css").status_code == 404


REPORTS = (
    "/v1/reports/experiments",
    "/v1/reports/experiments/{experiment_id}",
    "/v1/reports/health?period=30d",
    "/v1/reports/segments?min_sends=10",
    "/v1/reports/attribution?lookback_days=7",
    "/v1/reports/leads/{lead_id}",
)


@pytest.mark.parametrize("template", REPORTS)
def test_json_reports_need_a_bearer_key_with_read_scope(
    client: TestClient, site: Site, template: str
) -> None:
    path = _path(site, template)
    assert client.get(path).status_code == 401
    # The pages' cookie is not accepted by the JSON API (bearer keys only).
    assert client.get(path, headers={"Cookie": f"optimizer_key={site.read_key}"}).status_code == 401
    wrong = client.get(path, headers={"Authorization": f"Bearer {site.decide_key}"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    response = client.get(path, headers={"Authorization": f"Bearer {site.read_key}"})
    assert response.status_code == 200
    assert isinstance(response.json(), dict)


def test_json_reports_content_and_errors(client: TestClient, site: Site) -> None:
    auth = {"Authorization": f"Bearer {site.read_key}"}
    body = client.get(f"/v1/reports/experiments/{site.world.experiment_id}", headers=auth).json()
    assert [v["name"] for v in body["variants"]] == list(site.world.variant_names)
    assert body["verdict"]
    health = client.get("/v1/reports/health", headers=auth).json()
    assert health["opt_out_good"] == 0.01 and health["opt_out_bad"] == 0.02
    missing = client.get("/v1/reports/experiments/999999", headers=auth)
    assert missing.status_code == 404 and "999999" in missing.json()["error"]["message"]
    bad = client.get("/v1/reports/health?period=2w", headers=auth)
    assert bad.status_code == 422 and "period '2w' is unknown" in bad.json()["error"]["message"]
    bad_day = client.get("/v1/reports/health?start=yesterday", headers=auth)
    assert bad_day.status_code == 422


def _session_cookie(client: TestClient) -> str:
    token = client.cookies.get("optimizer_session")
    assert token and token.startswith("us_")
    return token


def test_logout_ends_the_session_on_the_server(client: TestClient, site: Site) -> None:
    _login(client, site.read_key)
    token = _session_cookie(client)
    assert client.get("/ui/health").status_code == 200
    client.post("/ui/logout")
    # The old cookie, replayed after logout, no longer opens a page.
    client.cookies.set("optimizer_session", token, path="/ui")
    assert client.get("/ui/health").status_code == 303


def test_the_key_itself_in_a_cookie_opens_nothing(client: TestClient, site: Site) -> None:
    client.cookies.set("optimizer_key", site.read_key, path="/ui")
    client.cookies.set("optimizer_session", site.read_key, path="/ui")
    assert client.get("/ui/health").status_code == 303


def test_a_revoked_keys_session_stops_working(client: TestClient, site: Site) -> None:
    import datetime as dt

    from optimizer.ingest.keys import create_key, revoke_key
    from optimizer.store.db import make_engine, session_factory, transaction

    engine = make_engine(site.database_url)
    with transaction(session_factory(engine)) as session:
        key = create_key(session, scopes=["read"], name="ui-revoked", now=dt.datetime.now(dt.UTC))
    _login(client, key.plaintext)
    assert client.get("/ui/health").status_code == 200
    with transaction(session_factory(engine)) as session:
        revoke_key(session, key.id, now=dt.datetime.now(dt.UTC))
    engine.dispose()
    assert client.get("/ui/health").status_code == 303

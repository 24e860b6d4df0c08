"""Screenshots of every marketer page, taken in a real browser against a real server.

Starts the app with uvicorn on 127.0.0.1 (a free port) over a store, logs in through the form
with a key that has the ``read`` scope, opens each page and saves a PNG per page (desktop, plus
phone-sized views of the experiment and health pages).

    .venv/bin/python -m experiments.screenshots                      # the store of ./var
    .venv/bin/python -m experiments.screenshots --database-url sqlite:///var/optimizer.db
    .venv/bin/python -m experiments.screenshots --synthetic          # a fresh synthetic store
    .venv/bin/python -m experiments.screenshots --out test-artifacts/screenshots

Needs Chromium (``apt-get install -y chromium``) and Playwright for Python (the ``e2e`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_HINT = (
    "Chromium and Playwright for Python are needed: apt-get install -y chromium, and install "
    "the project's e2e extra (pip install -e '.[e2e]'); never run `playwright install`"
)
# Starts the app with the marketer routers registered even before api/app.py lists them; the
# pages never use the decision models, so their load at start-up can be skipped (argv[2] == "1").
_SERVER_CODE = """
import sys, uvicorn, api.app as app_module
wanted = ("ui", "reports")
app_module._OPTIONAL_ROUTERS = tuple(dict.fromkeys(app_module._OPTIONAL_ROUTERS + wanted))
if sys.argv[2] == "1" and hasattr(app_module, "_load_models"):
    app_module._load_models = lambda state: None
uvicorn.run(app_module.create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def browser_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent. {INSTALL_HINT}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright is not installed. {INSTALL_HINT}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(
    database_url: str, var_dir: Path, *, timeout: float = 60.0, skip_models: bool = True
) -> Iterator[str]:
    """The real app under uvicorn in a subprocess; yields its base URL and stops it after.

    ``skip_models`` skips loading the decision models at start-up (the pages do not use them).
    """
    port = free_port()
    env = {
        **os.environ,
        "OPTIMIZER_DATABASE_URL": database_url,
        "OPTIMIZER_VAR_DIR": str(var_dir),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER_CODE, str(port), "1" if skip_models else "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"server exited with {process.returncode}: {output[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    if response.status in (200, 503):
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on {base} did not answer /healthz within {timeout}s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def login(page: Any, base: str, key: str, *, next_page: str = "/ui/experiments") -> None:
    page.goto(f"{base}/ui/login?next={next_page}")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_page}*")


def pages_of(session: Any) -> list[tuple[str, str]]:
    """``(name, path)`` of every page worth a screenshot in this store."""
    from sqlalchemy import select

    from optimizer.store.models import Event, Experiment

    result = [("experiments", "/ui/experiments")]
    experiment_id = session.scalars(select(Experiment.id).order_by(Experiment.id.desc())).first()
    if experiment_id is not None:
        result.append(("experiment", f"/ui/experiments/{experiment_id}"))
    result += [("health", "/ui/health"), ("segments", "/ui/segments"),
               ("attribution", "/ui/attribution")]  # fmt: skip
    lead_id = session.scalars(
        select(Event.lead_id).where(Event.type == "conversion").order_by(Event.id)
    ).first()
    if lead_id is None:
        lead_id = session.scalars(select(Event.lead_id).order_by(Event.id)).first()
    if lead_id is not None:
        result.append(("lead", f"/ui/leads/{lead_id}"))
    return result


def capture(
    base: str, key: str, pages: list[tuple[str, str]], out: Path, *, phone: bool = True
) -> list[Path]:
    """Log in, open each page and save full-page PNGs; returns the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            login(page, base, key)
            for name, path in pages:
                page.goto(f"{base}{path}")
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
            if phone:
                mobile = browser.new_context(
                    viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
                )
                phone_page = mobile.new_page()
                login(phone_page, base, key)
                for name, path in pages:
                    if name in ("experiment", "health"):
                        phone_page.goto(f"{base}{path}")
                        target = out / f"{name}-phone.png"
                        phone_page.screenshot(path=str(target), full_page=True)
                        written.append(target)
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="store to show (default: ./var's)")
    parser.add_argument("--synthetic", action="store_true", help="fill a fresh temporary store")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "test-artifacts" / "screenshots"))
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2

    from optimizer.ingest.keys import create_key
    from optimizer.settings import get_settings
    from optimizer.store.db import make_engine, session_factory, upgrade
    from optimizer.store.models import ApiKey

    with tempfile.TemporaryDirectory() as scratch:
        var_dir = Path(scratch) / "var"
        url = args.database_url or get_settings().resolved_database_url()
        if args.synthetic:
            url = f"sqlite:///{Path(scratch) / 'synthetic.db'}"
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        now = dt.datetime.now(dt.UTC)
        with sessions() as session:
            if args.synthetic:
                sys.path.insert(0, str(PROJECT_ROOT))
                from tests.reports.factory import fill_store

                fill_store(session)
            key = create_key(session, scopes=["read"], name="screenshots", now=now)
            pages = pages_of(session)
            session.commit()
        try:
            with live_server(url, var_dir) as base:
                files = capture(base, key.plaintext, pages, Path(args.out))
        finally:
            with sessions() as session:
                row = session.get(ApiKey, key.id)
                if row is not None:
                    row.revoked_at = dt.datetime.now(dt.UTC)
                    session.commit()
            engine.dispose()
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

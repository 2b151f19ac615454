"""Browser test harness: the app on a real loopback server, Debian's Chromium via Playwright,
screenshots under test-artifacts/, and axe-core injected from tests/console/node_modules."""
from __future__ import annotations

import os
import re
import threading
from importlib.util import find_spec
from pathlib import Path
from typing import Self

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


class LiveServer:
    """The app served by werkzeug on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)


class Shots:
    """Numbered screenshots of one journey: test-artifacts/console/<test>/<n>-<name>.png."""

    def __init__(self, page, name: str) -> None:
        self.page = page
        self.dir = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0

    def __call__(self, name: str, full_page: bool = True) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the current page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/test installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def live(app):
    app.config["WTF_CSRF_ENABLED"] = True
    stop = threading.Event()
    worker = None
    if find_spec("connector.jobs") is not None:
        # The background jobs (imports, generated accounts) run as in `connector serve`.
        from connector.jobs import job_loop
        worker = threading.Thread(target=job_loop, args=(app, stop), daemon=True)
        worker.start()
    with LiveServer(app) as server:
        yield server
    stop.set()
    if worker is not None:
        worker.join(10)


@pytest.fixture
def page(browser, live, request):
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.shots = Shots(pg, request.node.name)
    yield pg
    context.close()

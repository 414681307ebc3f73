"""The dashboard in headless Chromium: it loads, shows replayed trades and the equity curve, start/stop work."""

from __future__ import annotations

import os
import shutil
from datetime import date, time
from pathlib import Path

import httpx
import pytest

from mesdesk.api import create_app
from mesdesk.config import load_settings
from mesdesk.services.paper import RunnerOptions

from .server import running_server, wait_for

CHROMIUM = os.environ.get("MESDESK_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.browser


def _chromium() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    return path


def test_dashboard_shows_replayed_trades_and_start_stop_works(tmp_path: Path) -> None:
    chromium = _chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = load_settings(
        MESDESK_DATA_DIR=str(tmp_path),
        MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/ui.sqlite",
        MESDESK_DECIDER="auto",
        OPENAI_API_KEY="",
        ANTHROPIC_API_KEY="",
    )
    options = RunnerOptions(replay_day=date(2025, 9, 16), replay_from_ct=time(8, 28), speed=0)
    app = create_app(settings, options)
    with running_server(app) as base:
        wait_for(lambda: len(httpx.get(f"{base}/metrics/trades").json()) >= 2, 120, "two replayed trades")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base + "/")
            expect(page.locator("#status-text")).to_contain_text("running", timeout=15_000)
            expect(page.locator("#trades tbody tr").first).to_be_visible(timeout=15_000)
            assert page.locator("#trades tbody tr").count() >= 2
            assert page.locator("#journal tbody tr").count() >= 2
            assert int(page.locator("#equity").get_attribute("data-points") or "0") >= 2
            assert page.locator("#live-setup").inner_text() != "–"
            page.click("#btn-stop")
            expect(page.locator("#status-text")).to_contain_text("stopped", timeout=10_000)
            assert httpx.get(f"{base}/metrics/summary").json()["running"] is False
            shot = Path(os.environ.get("MESDESK_SCREENSHOT_DIR", tmp_path)) / "dashboard.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            page.click("#btn-start")
            expect(page.locator("#status-text")).to_contain_text("running", timeout=10_000)
            assert httpx.get(f"{base}/metrics/summary").json()["running"] is True
            browser.close()
    assert shot.stat().st_size > 10_000

"""The dashboard in headless Chromium: it loads, shows replayed trades and the equity curve, start/stop work."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import httpx
import pytest

from mesdesk.api import create_app
from mesdesk.config import load_settings
from mesdesk.services.paper import RunnerOptions

from .server import running_server, wait_for

pytestmark = pytest.mark.browser


def test_dashboard_shows_replayed_trades_and_start_stop_works(tmp_path: Path, chromium: str, screenshots: Path) -> None:
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
            page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
            page.click("#btn-start")
            expect(page.locator("#status-text")).to_contain_text("running", timeout=10_000)
            assert httpx.get(f"{base}/metrics/summary").json()["running"] is True
            browser.close()
    assert (screenshots / "dashboard.png").stat().st_size > 10_000


def _foreign_requests(page: object, own: tuple[str, ...]) -> list[str]:
    """Abort and record every request to anything but `own` (prefixes); returns the live list."""
    seen: list[str] = []

    def handle(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(own):
            route.continue_()  # type: ignore[attr-defined]
        else:
            seen.append(url)
            route.abort()  # type: ignore[attr-defined]

    page.route("**/*", handle)  # type: ignore[attr-defined]
    return seen


def test_chart_shows_every_decision_live_in_ct_on_the_dst_change_session(
    tmp_path: Path, chromium: str, screenshots: Path
) -> None:
    """Trading day 2025-03-10 opens at 17:00 CT on Sunday 2025-03-09, the spring DST change day."""
    from playwright.sync_api import expect, sync_playwright

    settings = load_settings(
        MESDESK_DATA_DIR=str(tmp_path),
        MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/chart.sqlite",
        MESDESK_DECIDER="auto",
        OPENAI_API_KEY="",
        ANTHROPIC_API_KEY="",
    )
    # 0.25 s a bar: the first trade (08:43 CT) comes within seconds, the next one minutes later.
    options = RunnerOptions(replay_day=date(2025, 3, 10), replay_from_ct=time(8, 28), speed=240)
    with running_server(create_app(settings, options)) as base:
        wait_for(lambda: len(httpx.get(f"{base}/chart/trades").json()["trades"]) >= 1, 120, "a replayed trade")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            foreign = _foreign_requests(page, (base + "/",))
            page.goto(base + "/")
            expect(page.locator("#price canvas").first).to_be_visible(timeout=15_000)
            expect(page.locator("#price")).to_have_attribute("data-trade-markers", "1", timeout=15_000)

            # The page follows the runner without a reload: a new bar shows within a second or two.
            first = page.locator("body").get_attribute("data-last-bar")
            expect(page.locator("body")).not_to_have_attribute("data-last-bar", first or "", timeout=3_000)

            # Stop trading (the trade count holds; bars still arrive), then count and hover.
            assert httpx.post(f"{base}/control/stop").status_code == 200
            page.wait_for_timeout(1500)
            trades = httpx.get(f"{base}/chart/trades").json()["trades"]
            expect(page.locator("#price")).to_have_attribute("data-trade-markers", str(len(trades)), timeout=5_000)
            candidates = page.evaluate("window.mesdesk.candidates")
            assert int(page.locator("#price").get_attribute("data-candidate-markers") or "0") == len(candidates)

            # Times are CT: the trade entered 13:43 UTC shows 08:43 in the table and on the chart.
            assert trades[0]["entry_ts"] == "2025-03-10T13:43:00Z"
            expect(page.locator("#trades tbody tr").first).to_contain_text("08:43")
            taken = next(c for c in candidates if c["kind"] == "taken")
            # Bars keep arriving (a stopped runner still follows the market, it only stops trading), so
            # the chart may scroll under the mouse: focus and hover again until the tooltip is the candidate's.
            tip = page.locator("#price .mc-tooltip")
            text = ""
            for _ in range(6):
                page.evaluate(f"window.mesdesk.chart.focus({taken['t']} - 1800, {taken['t']} + 1800)")
                page.wait_for_timeout(300)
                box = page.locator("#price").bounding_box()
                x = page.evaluate(f"window.mesdesk.chart.coordinateOf({taken['t']})")
                assert box is not None
                assert x is not None
                page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
                expect(tip).to_be_visible(timeout=5_000)
                text = tip.inner_text()
                if taken["reason"] in text:
                    break
            assert taken["reason"]
            assert taken["reason"] in text
            assert f"gate {taken['gate']}" in text
            assert f"decision {taken['decision']}" in text
            bar_open = datetime.fromtimestamp(taken["t"], UTC).strftime("%Y-%m-%d %H:%M")
            assert f"{bar_open} CT" in text
            assert bar_open.startswith("2025-03-10 08:4")

            page.screenshot(path=str(screenshots / "dashboard-mid-replay.png"), full_page=True)
            browser.close()
    assert foreign == []

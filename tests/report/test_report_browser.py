"""The backtest report opened from disk in headless Chromium: days, markers, tooltips, a trade's path, offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mesdesk.services.backtest import BacktestReport
from mesdesk.services.backtest_report import write_report

pytestmark = pytest.mark.browser


def test_report_walks_through_days_and_trades_offline(report_file: Path, chromium: str, screenshots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    foreign: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def handle(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if url.startswith(report_file.as_uri()):
                route.continue_()  # type: ignore[attr-defined]
            else:
                foreign.append(url)
                route.abort()  # type: ignore[attr-defined]

        page.route("**/*", handle)
        page.goto(report_file.as_uri())
        expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=15_000)
        expect(page.locator("#price canvas").first).to_be_visible()
        data = page.evaluate("window.REPORT")

        # Every day is selectable; each shows as many trade markers as it has trades.
        options = page.locator("#day option").all_inner_texts()
        assert [o.split()[0] for o in options] == [d["day"] for d in data["days"]]
        for day in ("2025-03-07", "2025-03-10"):
            page.select_option("#day", day)
            n = sum(t["day"] == day for t in data["trades"])
            expect(page.locator("#price")).to_have_attribute("data-trade-markers", str(n))
            c = sum(x["day"] == day for x in data["candidates"])
            expect(page.locator("#price")).to_have_attribute("data-candidate-markers", str(c))

        # The trades table: every trade, no NaN, sorts and filters.
        rows = page.locator("#trades tbody tr")
        assert rows.count() == len(data["trades"]) > 0
        assert "NaN" not in page.locator("#trades").inner_text()
        page.locator("#trades th", has_text="P&L pts").click()
        pnl = [t["pnl_pts"] for t in data["trades"]]
        expect(rows.first).to_contain_text(f"{min(pnl):.3f}")
        page.fill("#trades .mc-filter", "sl")
        assert 0 < rows.count() < len(data["trades"])
        page.fill("#trades .mc-filter", "")

        # A click on a trade opens its day and lists entry, stop moves and exit in CT.
        moved = next((t for t in data["trades"] if len(t["stops"]) > 1), data["trades"][0])
        page.locator("#trades tbody tr", has_text=moved["entry_ct"][11:16]).filter(has_text=moved["day"]).first.click()
        expect(page.locator("body")).to_have_attribute("data-trade", str(moved["id"]))
        detail = page.locator("#trade-detail")
        expect(detail).to_contain_text(f"{moved['entry_ct']} CT · entry")
        expect(detail).to_contain_text(f"exit {moved['exit_reason']}")
        for s in moved["stops"][1:]:
            expect(detail).to_contain_text(f"stop moved to {s['stop']:.2f} ({s['why']})")

        # The tooltip of a candidate is its journal row, at its CT bar time.
        cand = next(x for x in data["candidates"] if x["day"] == moved["day"] and x["reason"])
        page.locator("#price").scroll_into_view_if_needed()
        page.evaluate(f"window.reportChart.focus({cand['t']} - 1800, {cand['t']} + 1800)")
        page.wait_for_timeout(300)
        box = page.locator("#price").bounding_box()
        x = page.evaluate(f"window.reportChart.coordinateOf({cand['t']})")
        assert box is not None
        assert x is not None
        page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
        tip = page.locator("#price .mc-tooltip")
        expect(tip).to_be_visible()
        text = tip.inner_text()
        assert cand["reason"] in text
        assert f"gate {cand['gate']}" in text
        assert datetime.fromtimestamp(cand["t"], UTC).strftime("%Y-%m-%d %H:%M CT") in text

        assert int(page.locator("#equity").get_attribute("data-points") or "0") == len(data["equity"])
        assert int(page.locator("#scatter").get_attribute("data-points") or "0") == len(data["trades"])
        page.screenshot(path=str(screenshots / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert foreign == []


def test_a_capped_report_says_which_days_it_holds_and_how_to_draw_another(
    backtest: BacktestReport, tmp_path: Path, chromium: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    (path,) = write_report(backtest, tmp_path, None, max_days=3)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())
        expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=15_000)
        data = page.evaluate("window.REPORT")
        held = [d["day"] for d in data["days"]]
        assert len(held) == 3
        assert [o.split()[0] for o in page.locator("#day option").all_inner_texts()] == held
        expect(page.locator("#overview")).to_have_attribute("data-days", "10")
        expect(page.locator("#overview")).to_have_attribute("data-embedded", "3")
        expect(page.locator("#embedded")).to_contain_text("3 of 10 trading days are in this file")

        # A trade of a day the file does not hold: its path is listed with the command that draws the day.
        away = next(t for t in data["trades"] if t["day"] not in held)
        shown = page.locator("body").get_attribute("data-day")
        page.locator("#trades tbody tr", has_text=away["entry_ct"][11:16]).filter(has_text=away["day"]).first.click()
        expect(page.locator("body")).to_have_attribute("data-trade", str(away["id"]))
        expect(page.locator("#trade-detail")).to_contain_text(
            f"run the same backtest again with --chart-day {away['day']}"
        )
        assert page.locator("body").get_attribute("data-day") == shown

        # Hovering a day of the overview names it; a click on a held day opens it below.
        target = next(d for d in held if d != shown)
        i = data["overview"]["day"].index(target)
        page.locator("#overview").scroll_into_view_if_needed()
        box = page.locator("#overview").bounding_box()
        x = page.evaluate(f"window.reportOverview.timeScale().timeToCoordinate({data['overview']['t'][i]})")
        assert box is not None
        assert x is not None
        page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
        expect(page.locator("#overview-info")).to_contain_text(f"{target} · O ")
        expect(page.locator("#overview-info")).to_contain_text("bars in this file: click to open")
        page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
        expect(page.locator("body")).to_have_attribute("data-day", target)
        browser.close()
    assert errors == []

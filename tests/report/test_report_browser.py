"""The backtest report opened from disk in headless Chromium: days, markers, tooltips, a trade's path, offline."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MESDESK_CHROMIUM", "/usr/bin/chromium")


def _chromium() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    return path


def test_report_walks_through_days_and_trades_offline(report_file: Path, tmp_path: Path) -> None:
    chromium = _chromium()
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
        shots = Path(os.environ.get("MESDESK_SCREENSHOT_DIR", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert foreign == []

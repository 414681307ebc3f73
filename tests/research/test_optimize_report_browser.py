"""The optimizer's report opened from disk in headless Chromium: the equity chart draws, offline, without errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesdesk.research import OptimizeSpec, optimize
from mesdesk.research.evaluate import Evaluator, parameter_kinds
from mesdesk.research.params import parse_params
from mesdesk.research.report import summary
from mesdesk.research.walkforward import WalkForwardSpec
from mesdesk.services.optimize_report import write_report

pytestmark = pytest.mark.browser


def test_the_report_draws_its_charts_offline_without_errors(
    chromium: str, evaluator: Evaluator, tmp_path: Path, screenshots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    grid = parse_params(["bracket.tp_pts=1,2", "prefilter.threshold=60,75,90"], parameter_kinds())
    spec = OptimizeSpec(params=grid, min_trades=2, walk_forward=WalkForwardSpec.parse("4:2"), groups=4)
    result = optimize(evaluator, spec)
    (path,) = write_report(result, summary(result), tmp_path)
    oos_days = result.walk_forward.oos_days.size
    foreign: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: None if r.url == path.as_uri() else foreign.append(r.url))
        page.goto(path.as_uri())
        expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=15_000)
        expect(page.locator("#equity canvas").first).to_be_visible()
        expect(page.locator("#equity")).to_have_attribute("data-points", str(oos_days))

        # Hovering the equity chart names the day under the cursor, its fold and both fill policies.
        page.locator("#equity").scroll_into_view_if_needed()
        box = page.locator("#equity").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        days = page.evaluate("window.REPORT.equity.day")
        expect(page.locator("#equity-info")).to_contain_text(" · fold ")
        shown = page.locator("#equity-info").inner_text().split(" · ")[0]
        assert shown in days
        expect(page.locator("#equity-info")).to_contain_text("target-first")

        # The server-written charts are in the page as drawn elements.
        assert page.locator("#scatter circle").count() > len(result.walk_forward.choices)
        assert page.locator("#logits rect").count() > 0
        assert page.locator("table.heat td").count() == 2 * 3
        page.screenshot(path=str(screenshots / "optimize-report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert foreign == []

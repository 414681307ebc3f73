"""The optimizer's report.html: one file that fetches nothing, whose charts hold the result's own numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mesdesk.research import OptimizeSpec, optimize
from mesdesk.research.evaluate import Evaluator, parameter_kinds
from mesdesk.research.objectives import objective_values
from mesdesk.research.optimize import OptimizeResult
from mesdesk.research.params import config_key, parse_params
from mesdesk.research.report import summary
from mesdesk.research.walkforward import WalkForwardSpec
from mesdesk.services.optimize_report import logit_bins, report_html, write_report

# threshold 90 and 99: no candidate scores that high on these days, so those cells have no trade at all
GRID = ["bracket.tp_pts=1,2", "prefilter.threshold=60,75,90,99"]
# URLs in the inlined scripts that nothing fetches: the SVG namespace, the licence, the library's logo link
INERT_URLS = ("http://www.w3.org/2000/svg", "https://www.apache.org/licenses/", "https://www.tradingview.com/")


def _result(evaluator: Evaluator, grid: list[str], **kw: Any) -> OptimizeResult:
    spec = OptimizeSpec(
        params=parse_params(grid, parameter_kinds()),
        min_trades=2,
        walk_forward=WalkForwardSpec.parse("4:2"),
        groups=4,
        **kw,
    )
    return optimize(evaluator, spec)


def _data(page: str) -> dict[str, Any]:
    raw = page.split("window.REPORT = ", 1)[1].split(";</script>", 1)[0]
    return json.loads(raw.replace("<\\/", "</"))  # type: ignore[no-any-return]


def _body(page: str) -> str:
    return page.split("<body>", 1)[1].split("<script>", 1)[0]


@pytest.fixture(name="result")
def fixture_result(evaluator: Evaluator) -> OptimizeResult:
    return _result(evaluator, GRID)


def test_the_report_is_one_file_that_fetches_nothing(result: OptimizeResult, tmp_path: Path) -> None:
    (path,) = write_report(result, summary(result), tmp_path)
    assert path == tmp_path / "report.html"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    page = path.read_text(encoding="utf-8")
    for fetch in ("<script src", "<link", "@import", "<img"):
        assert fetch not in page
    assert "url(" not in page.split("<style>", 1)[1].split("</style>", 1)[0]
    urls = re.findall(r"https?://[^\s\"'`)]+", page)
    assert all(u.startswith(INERT_URLS) for u in urls), urls
    assert "http" not in _body(page)
    assert "TradingView Lightweight Charts" in page  # the library is inlined with its licence header
    assert "matplotlib" not in page
    assert "NaN" not in page.split("window.REPORT = ", 1)[1]


def test_the_equity_data_is_the_stitched_out_of_sample_record(result: OptimizeResult) -> None:
    eq = _data(report_html(result, summary(result)))["equity"]
    wf = result.walk_forward
    assert eq["day"] == [str(d) for d in result.matrix.days[wf.oos_days]]
    assert len(eq["day"]) == sum(c.fold.test_days.size for c in wf.choices) > 0
    assert eq["daily_net_pts"] == pytest.approx(wf.oos_daily_net.tolist())
    assert eq["stop_first_pts"] == pytest.approx(np.cumsum(wf.oos_daily_net).tolist())
    assert eq["target_first_pts"] == pytest.approx(np.cumsum(wf.oos_daily_net_target_first).tolist())
    assert eq["stop_first_pts"][-1] == pytest.approx(result.oos_trades["pnl_pts"].sum())
    assert eq["target_first_pts"][-1] == pytest.approx(result.oos_trades_target_first["pnl_pts"].sum())
    # `t` is the trading day at 00:00 UTC in seconds: the axis of the page reads the day
    assert [np.datetime64(t, "s").astype("datetime64[D]").astype(str) for t in eq["t"]] == eq["day"]
    assert eq["fold"] == [c.fold.number for c in wf.choices for _ in range(c.fold.test_days.size)]


def test_the_heatmap_holds_each_configurations_whole_span_objective(result: OptimizeResult) -> None:
    page = report_html(result, summary(result))
    heat = _data(page)["heatmap"]
    assert heat["rows"] == {"name": "bracket.tp_pts", "values": ["1", "2"]}
    assert heat["columns"] == {"name": "prefilter.threshold", "values": ["60", "75", "90", "99"]}
    rows = {k: i for i, k in enumerate(result.keys)}
    for i, tp in enumerate((1.0, 2.0)):
        for j, threshold in enumerate((60.0, 75.0, 90.0, 99.0)):
            r = rows[config_key({"bracket.tp_pts": tp, "prefilter.threshold": threshold})]
            expected = result.in_sample[r]
            assert heat["values"][i][j] == (None if np.isnan(expected) else pytest.approx(expected))
            assert heat["trades"][i][j] == result.matrix.stop_first.trades[r].sum()
    # the cells of 90 and 99 have no trade: blank in the data, labelled on the page; the others show the value
    assert [row[2:] for row in heat["values"]] == [[None, None], [None, None]]
    assert all(v is not None for row in heat["values"] for v in row[:2])
    table = _body(page).split("<table class='heat'>", 1)[1].split("</table>", 1)[0]
    assert table.count(">too few trades</td>") == 4
    assert f">{heat['values'][0][0]:.4f}</td>" in table
    assert ">not tried</td>" not in table


def test_a_configuration_the_search_did_not_try_is_labelled_not_tried(evaluator: Evaluator) -> None:
    grid = ["bracket.tp_pts=1,1.5,2", "bracket.sl_pts=0.5,0.75,1"]
    result = _result(evaluator, grid, search="tpe", trials=3)
    assert 0 < result.n_configs < 9
    heat = _data(report_html(result, summary(result)))["heatmap"]
    untried = sum(not t for row in heat["tried"] for t in row)
    assert untried > 0
    body = _body(report_html(result, summary(result)))
    assert body.count(">not tried</td>") == untried


def test_the_scatter_holds_each_folds_objectives_and_rings_its_choice(result: OptimizeResult) -> None:
    page = report_html(result, summary(result))
    scatter = _data(page)["scatter"]
    spec = result.spec
    assert len(scatter) == len(result.walk_forward.choices) > 1
    drawn = 0
    for fold, c in zip(scatter, result.walk_forward.choices, strict=True):
        train = objective_values(result.matrix.stop_first, c.fold.train_days, spec.objective, spec.min_trades)
        test = objective_values(result.matrix.stop_first, c.fold.test_days, spec.objective, 0)
        assert fold["chosen"] == c.chosen
        assert fold["in_sample"] == [None if np.isnan(x) else pytest.approx(x) for x in train]
        assert fold["oos"] == [None if np.isnan(x) else pytest.approx(x) for x in test]
        drawn += int((np.isfinite(train) & np.isfinite(test)).sum())
    body = _body(page)
    assert f"data-points='{drawn}'" in body
    ringed = [c for c in result.walk_forward.choices if c.chosen >= 0]
    assert body.count("<g class='chosen'") == len(ringed) > 0
    assert f"fold {ringed[0].fold.number} chose tp_pts=" in body


def test_the_logits_hold_the_cscv_result_with_pbo_in_the_title(result: OptimizeResult) -> None:
    assert result.pbo is not None
    page = report_html(result, summary(result))
    logits = _data(page)["logits"]
    assert logits["values"] == pytest.approx(result.pbo.logits.tolist())
    assert logits["pbo"] == pytest.approx(result.pbo.pbo)
    at_or_below = int((result.pbo.logits <= 0).sum())
    assert f"PBO = {result.pbo.pbo:.2f} ({at_or_below} of {result.pbo.logits.size} splits" in _body(page)


def test_a_run_without_logits_or_a_second_parameter_says_why(evaluator: Evaluator) -> None:
    result = _result(evaluator, ["bracket.tp_pts=1"])
    assert result.pbo is None
    page = report_html(result, summary(result))
    data, body = _data(page), _body(page)
    assert data["logits"] == {"note": "needs at least 2 configurations", "values": []}
    assert "(no CSCV logits: needs at least 2 configurations)" in body
    assert "(a heatmap needs two searched parameters with two values or more)" in body
    assert "(no parameter with two values)" in body
    assert len(data["equity"]["day"]) > 0  # the walk-forward record is still drawn


@pytest.mark.parametrize(
    ("logits", "first_edge"),
    [
        ([-1.6, -0.3, 0.0, 0.0, 0.7, 1.6], None),
        ([0.69, 1.25, 2.08], 0.0),  # all above 0: the histogram still starts at the line
        ([-0.5, -0.5], None),
        ([0.0], None),
    ],
)
def test_logit_bins_count_a_zero_logit_left_of_the_line(logits: list[float], first_edge: float | None) -> None:
    values = np.array(logits)
    edges, counts = logit_bins(values)
    assert counts.size == edges.size - 1
    assert counts.sum() == values.size
    assert 0.0 in edges.tolist()
    assert counts[edges[1:] <= 0].sum() == (values <= 0).sum()
    for x in values:  # each logit sits in the bin (a, b] the page says it does
        i = int(np.flatnonzero((edges[:-1] < x) & (x <= edges[1:]))[0])
        assert counts[i] > 0
    if first_edge is not None:
        assert edges[0] == first_edge


def _spots(svg: str, spot: float) -> dict[str, set[tuple[int, int]]]:
    """The SPOT squares each fold's circles cover (the ringed choices left out)."""
    out: dict[str, set[tuple[int, int]]] = {}
    for fold, group in re.findall(r"<g fill='[^']+' fill-opacity='0.55' data-fold='(\d+)'>(.*?)</g>", svg):
        cells = re.findall(r"<circle cx='([\d.]+)' cy='([\d.]+)' r='3'>", group)
        out[fold] = {(int(float(x) // spot), int(float(y) // spot)) for x, y in cells}
    return out


def test_a_large_grid_draws_each_spot_once_and_loses_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import mesdesk.services.optimize_report as page

    rng = np.random.default_rng(5)
    n = 30_000  # x 3 folds: above HOVER_POINTS
    points = [page.FoldPoints(f, int(rng.integers(n)), rng.normal(f, 1, n), rng.standard_t(3, n)) for f in range(3)]
    labels = [f"c{i}" for i in range(n)]
    thin = page.scatter_svg(points, labels, "sharpe")
    monkeypatch.setattr(page, "HOVER_POINTS", 10**9)
    every = page.scatter_svg(points, labels, "sharpe")
    drawn, wanted = _spots(thin, page.SPOT), _spots(every, page.SPOT)
    assert drawn.keys() == wanted.keys() == {"0", "1", "2"}
    for fold in drawn:
        # a centre read back to 0.1 unit may cross a spot's edge: every spot of the full drawing has a drawn
        # circle on it or next to it
        near = {(x + dx, y + dy) for x, y in drawn[fold] for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
        assert wanted[fold] <= near
        assert len(drawn[fold]) <= len(wanted[fold]) + 10
        assert thin.count(f"data-fold='{fold}'>") == 2  # the fold's group and its ringed choice
    assert thin.count("<circle") < every.count("<circle") / 10
    assert thin.count("<title>") == 3  # only the choices carry hover text
    assert f"{3 * n:,} points, drawn once per spot" in thin
    assert len(thin) < 2_000_000


def test_a_grid_within_the_hover_limit_draws_every_point_with_its_values() -> None:
    from mesdesk.services.optimize_report import HOVER_POINTS, FoldPoints, scatter_svg

    rng = np.random.default_rng(6)
    n = HOVER_POINTS // 2
    points = [FoldPoints(f, 0, rng.normal(0, 1, n), rng.normal(0, 1, n)) for f in range(2)]
    svg = scatter_svg(points, [f"c{i}" for i in range(n)], "sharpe")
    assert svg.count("r='3'>") == 2 * n
    assert svg.count("<title>") == 2 * n + 2

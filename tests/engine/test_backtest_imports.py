"""A rule backtest loads no heavy library: what `mesdesk backtest` imports on a file or synthetic data.

Checked in a fresh interpreter: the CLI with every command registered, then the backtest job on
synthetic bars and on a CSV file with every output the command writes (trades, journal, the HTML
report), and the tables the command prints. The heavy libraries are
the ones the speed issue names (scikit-learn, SciPy, matplotlib, SQLAlchemy, the LLM SDKs and their
HTTP client, Optuna, Ray) and the service and provider stacks. numba itself loads ``scipy`` and
``scipy.linalg``'s BLAS
bindings when it initialises (a version check and its BLAS probe); the backtest may load no scipy
module beyond those (no scipy.signal, scipy.stats, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    *("sklearn", "matplotlib", "sqlalchemy", "alembic", "openai", "anthropic", "httpx", "httpx2", "optuna", "ray"),
    *("fastapi", "starlette", "uvicorn", "databento", "requests", "exchange_calendars", "autogluon", "torch"),
)

CODE = """
import json, sys
from pathlib import Path
import mesdesk.cli
mesdesk.cli._register()
from mesdesk.services.backtest import BacktestRequest, run_backtest_job
from mesdesk.config import Settings
settings = Settings(_env_file=None)
synthetic = run_backtest_job(BacktestRequest(days=5, write=False), settings)
synthetic.bars.to_csv(Path(sys.argv[1]) / "bars.csv")
out = Path(sys.argv[1]) / "out"
report = run_backtest_job(BacktestRequest(source="file", file=Path(sys.argv[1]) / "bars.csv", out=out), settings)
assert (out / "report.html").exists() and (out / "journal.csv").exists()
from mesdesk.cli.backtest import print_report
print_report(report)
scipy_parts = sorted(m for m in sys.modules if m.startswith("scipy"))
tops = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"modules": tops, "scipy": scipy_parts, "trades": len(report.trades)}))
"""


NUMBA_ALONE = """
import json, sys
from numba import njit

@njit
def one(x):
    return x + 1.0

one(1.0)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("scipy"))))
"""


def test_a_rule_backtest_imports_no_heavy_library(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    alone = subprocess.run([sys.executable, "-c", NUMBA_ALONE], env=env, capture_output=True, text=True, check=True)
    numba_scipy = set(json.loads(alone.stdout.strip().splitlines()[-1]))
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path)], env=env, capture_output=True, text=True, check=True, cwd=tmp_path
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["trades"] > 0  # the backtest really ran
    assert "numba" in result["modules"]  # the compiled path really loaded
    assert [m for m in HEAVY if m in result["modules"]] == []
    assert set(result["scipy"]) <= numba_scipy, sorted(set(result["scipy"]) - numba_scipy)
    assert "scipy.signal" not in result["scipy"]


def test_the_cli_registers_every_command_without_pandas_or_numba() -> None:
    """`mesdesk --help` and command parsing stay quick: a command imports its stack when it runs."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys, mesdesk.cli as c; c._register(); print(sorted({'pandas', 'numpy', 'numba'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

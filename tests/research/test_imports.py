"""Optuna and Ray are loaded only when asked for (`--search tpe`, `--executor ray`): never on the backtest path,
nor by importing the optimizer."""

from __future__ import annotations

import os
import subprocess
import sys


def test_optuna_and_ray_are_not_imported_by_the_backtest_or_the_grid_path() -> None:
    code = (
        "import sys, mesdesk.services.backtest, mesdesk.research, mesdesk.services.optimize, mesdesk.cli.optimize;"
        "import mesdesk.research.executors as e; e.make_executor('local');"
        "print('optuna' in sys.modules, 'ray' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"

"""Options shared by the commands that take setups (`backtest`, `learn`, `serve`, `optimize`, `lookahead`)."""

from __future__ import annotations

from typing import Annotated

import typer

SetupOption = Annotated[
    list[str] | None,
    typer.Option(
        "--setup",
        help="A built-in setup name, path/to/file.py:function or package.module:function (repeatable; "
        "default: the three built-ins).",
    ),
]
SetupParamOption = Annotated[
    list[str] | None,
    typer.Option("--setup-param", help="<setup>.<param>=<value>, e.g. ORB_retest_go.range_minutes=30 (repeatable)."),
]

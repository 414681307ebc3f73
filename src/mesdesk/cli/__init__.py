"""The `mesdesk` command line. Each area registers its commands from its own module below.

Commands only parse flags, call `mesdesk.services`, and print tables; domain errors become one
clear line on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import sys

import typer

from mesdesk.errors import MesdeskError

app = typer.Typer(
    name="mesdesk",
    help="MES futures intraday research and paper-trading desk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """MES futures intraday research and paper-trading desk."""


def _register() -> None:
    # Each module adds its commands to `app` when imported.
    import mesdesk.cli.backtest  # noqa: F401
    import mesdesk.cli.calibration  # noqa: F401
    import mesdesk.cli.data  # noqa: F401
    import mesdesk.cli.forecast  # noqa: F401
    import mesdesk.cli.learn  # noqa: F401
    import mesdesk.cli.lookahead  # noqa: F401
    import mesdesk.cli.optimize  # noqa: F401
    import mesdesk.cli.runner  # noqa: F401
    import mesdesk.cli.scan  # noqa: F401
    import mesdesk.cli.serve  # noqa: F401
    from mesdesk.cli import demo  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning `MesdeskError` into one line and exit code 2."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except MesdeskError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # usage errors: typer >= 0.20 raises its own vendored click's exceptions
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise

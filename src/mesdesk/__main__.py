"""`python -m mesdesk ...`: the same as the `mesdesk` command (how `mesdesk serve` starts its runner)."""

from mesdesk.cli import run

run()

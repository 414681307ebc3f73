"""mesdesk switches Arrow to the C library's allocator, unless ARROW_DEFAULT_MEMORY_POOL names one or
pyarrow was loaded before it."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

import mesdesk

POOL = "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _pool_after(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != mesdesk.ARROW_POOL_VARIABLE}
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; {POOL}"], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_importing_mesdesk_first_selects_the_system_pool() -> None:
    assert _pool_after("import mesdesk") == "system"


def test_after_pandas_loaded_pyarrow_its_choice_stands() -> None:
    # pandas has loaded pyarrow and allocated: Arrow has read the variable already, so mesdesk sets nothing
    assert _pool_after("import pandas, mesdesk, os; print(os.environ.get('ARROW_DEFAULT_MEMORY_POOL'))") == (
        "None\n" + _pool_after("import pandas")
    )


def test_the_mesdesk_command_selects_the_system_pool() -> None:
    assert _pool_after("from mesdesk.cli import run") == "system"


def test_worker_processes_inherit_the_choice() -> None:
    code = (
        "import mesdesk, subprocess, sys; "
        "print(subprocess.run([sys.executable, '-c', 'import pyarrow as pa; "
        "print(pa.default_memory_pool().backend_name)'], capture_output=True, text=True).stdout.strip())"
    )
    assert _pool_after(code).splitlines()[0] == "system"


@pytest.mark.skipif(not hasattr(pa, "mimalloc_memory_pool"), reason="this pyarrow has no mimalloc")
def test_a_pool_the_user_names_is_kept() -> None:
    assert _pool_after("import mesdesk", ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"

"""mesdesk: MES futures intraday research and paper-trading desk."""

import os
import sys

__version__ = "0.1.0"

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def _arrow_system_pool() -> None:
    """Arrow allocates with the C library's malloc unless ARROW_DEFAULT_MEMORY_POOL names a pool.

    pyarrow's own default (mimalloc) cost mesdesk's first Parquet read and journal write in a process
    0.02-0.12 s more CPU in about half of the runs on 1M bars, and nothing in the runs after
    (docs/engine.md, "Arrow's allocator"). Arrow reads the variable when it first allocates, which
    pandas does on import: the `mesdesk` command imports this package first; a script or notebook
    that imports pandas before mesdesk keeps pyarrow's default unless it sets the variable itself.
    Worker processes inherit the variable.
    """
    if not os.environ.get(ARROW_POOL_VARIABLE) and "pyarrow" not in sys.modules:
        os.environ[ARROW_POOL_VARIABLE] = "system"


_arrow_system_pool()

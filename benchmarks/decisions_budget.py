"""Budget reservation speed: N threads racing for slots of one trading day, on SQLite or PostgreSQL.

    python benchmarks/decisions_budget.py [--url postgresql://...] [--threads 20] [--cap 2000]

Prints the wall time and reservations per second (every slot up to the cap is taken exactly once).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from mesdesk.llm.budget import Budget
from mesdesk.store.base import make_engine, migrate

NOW = datetime(2025, 1, 20, 15, 30, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--cap", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{(Path(tmp) / 'bench.sqlite').as_posix()}"
        if args.url:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(args.url)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            url = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        migrate(engine)
        budget = Budget(engine, args.cap, scope="bench")
        taken: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            while True:
                r = budget.reserve(NOW)
                if r is None:
                    return
                with lock:
                    taken.append(r.slot)

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        assert sorted(taken) == list(range(1, args.cap + 1)), "a slot was lost or taken twice"
        backend = "postgresql" if args.url else "sqlite"
        rate = args.cap / wall
        print(f"{backend}: {args.threads} threads took {args.cap} slots in {wall:.2f} s = {rate:.0f} reservations/s")
        engine.dispose()
        if args.url:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()

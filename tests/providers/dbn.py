"""DBN bytes written with databento_dbn, as the Databento gateway streams them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from types import SimpleNamespace

import databento_dbn as dbn
import pandas as pd
import zstandard

GATEWAY = "https://hist.databento.com/v0"
GET_RANGE = f"{GATEWAY}/timeseries.get_range"
GET_COST = f"{GATEWAY}/metadata.get_cost"
RESOLVE = f"{GATEWAY}/symbology.resolve"

_RTYPE = {"ohlcv-1m": dbn.RType.OHLCV_1M, "ohlcv-1h": dbn.RType.OHLCV_1H, "ohlcv-1s": dbn.RType.OHLCV_1S}
_SCHEMA = {"ohlcv-1m": dbn.Schema.OHLCV_1M, "ohlcv-1h": dbn.Schema.OHLCV_1H, "ohlcv-1s": dbn.Schema.OHLCV_1S}
_STYPE = {"continuous": dbn.SType.CONTINUOUS, "parent": dbn.SType.PARENT, "raw_symbol": dbn.SType.RAW_SYMBOL}

Row = tuple[str, float, float, float, float, int, int]  # ts (UTC), o, h, l, c, volume, instrument_id


def dbn_bytes(
    rows: Iterable[Row], *, schema: str = "ohlcv-1m", symbol: str = "MES.c.0", stype: str = "continuous"
) -> bytes:
    """A zstd DBN stream: metadata (with a symbol mapping) then one OHLCV record per row."""
    rows = list(rows)
    stamps = [int(pd.Timestamp(r[0], tz="UTC").value) for r in rows] or [
        int(pd.Timestamp("2025-01-02", tz="UTC").value)
    ]
    ids = sorted({r[6] for r in rows})
    intervals = [
        SimpleNamespace(start_date=dt.date(2020, 1, 1), end_date=dt.date(2030, 1, 1), symbol=str(i)) for i in ids
    ]
    mappings = [SimpleNamespace(raw_symbol=symbol, intervals=intervals)] if intervals else []
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=min(stamps),
        stype_in=_STYPE[stype],
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=_SCHEMA[schema],
        symbols=[symbol],
        end=max(stamps) + 60 * 10**9,
        mappings=mappings,
    )
    out = bytes(meta.encode())
    for r, ns in zip(rows, stamps, strict=False):
        if not rows:
            break
        o, h, lo, c = (round(x * 10**9) for x in r[1:5])
        out += bytes(dbn.OHLCVMsg(_RTYPE[schema], 1, r[6], ns, o, h, lo, c, r[5]))
    return zstandard.ZstdCompressor().compress(out)


def resolve_body(names: dict[int, str]) -> str:
    result = {str(i): [{"d0": "2020-01-01", "d1": "2030-01-01", "s": s}] for i, s in names.items()}
    return json.dumps(
        {
            "result": result,
            "symbols": [str(i) for i in names],
            "stype_in": "instrument_id",
            "stype_out": "raw_symbol",
            "partial": [],
            "not_found": [],
            "message": "OK",
            "status": 0,
        }
    )


def minute_rows(start: str, closes: list[float], instrument_id: int = 42, volume: int = 10) -> list[Row]:
    """One-minute rows from closes; open = previous close; high/low 0.25 outside."""
    idx = pd.date_range(start, periods=len(closes), freq="1min", tz="UTC")
    rows: list[Row] = []
    prev = closes[0]
    for t, c in zip(idx, closes, strict=True):
        rows.append(
            (str(t.tz_localize(None)), prev, max(prev, c) + 0.25, min(prev, c) - 0.25, c, volume, instrument_id)
        )
        prev = c
    return rows

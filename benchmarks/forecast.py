"""How long the forecast takes: /mes/forecast?model=quant (uncached) and the walk-forward evaluation.

Usage: python benchmarks/forecast.py [--file BARS.csv] [--days-back 90]
Prints wall-clock seconds of each step on this machine (synthetic market unless --file is given).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mesdesk.config import load_settings
from mesdesk.services.forecast import ForecastCache, ForecastRequest, evaluate_forecast, forecast_payload, prepare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--days-back", type=int, default=90)
    args = parser.parse_args()
    settings = load_settings(FRED_API_KEY=None)
    request = ForecastRequest(source="file" if args.file else "synthetic", file=args.file, days_back=args.days_back)
    started = time.perf_counter()
    prep = prepare(request, settings)
    loaded = time.perf_counter()
    print(f"bars: {len(prep.bars)} from {prep.bars_from}; {len(prep.features.frame)} decision rows")
    print(f"load + features: {loaded - started:.2f} s")
    forecast_payload("quant", request=request, settings=settings, bars=prep.bars, cache=ForecastCache(0))
    quant = time.perf_counter()
    print(f"forecast_payload(quant), uncached, bars given: {quant - loaded:.2f} s")
    evaluate_forecast(request, settings, bars=prep.bars)
    print(f"evaluate (ridge + MLP, 5 folds per horizon): {time.perf_counter() - quant:.2f} s")


if __name__ == "__main__":
    main()

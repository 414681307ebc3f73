#!/usr/bin/env bash
# SHA-256 of the journals, trades and scanner CSVs of a fixed set of runs: run before and after a
# refactor and diff the two listings (a refactor keeps behaviour byte for byte).
#   scripts/output-hashes.sh OUTDIR > OUTDIR.txt
# Real-bar runs use MESDESK_SHARED_DATA (default ../shared/data) and are skipped when it is absent.
set -u
out=${1:?usage: scripts/output-hashes.sh OUTDIR}
data=${MESDESK_SHARED_DATA:-$(dirname "$0")/../../shared/data}
mkdir -p "$out"
run() { name=$1; shift; mesdesk backtest "$@" --out "$out/$name" >/dev/null 2>"$out/$name.err" || echo "FAILED $name" >&2; }
run bt_synth
run bt_synth5 --timeframe 5m --sub-bars 1m --days 30
run bt_synth_learn --learning --days 40
run bt_local --decider local --days 20
mesdesk scan --csv "$out/scan_synth.csv" >/dev/null 2>&1 || echo "FAILED scan_synth" >&2
one=$data/ES_1m_2025-09-15_2025-10-10.csv
five=$data/ES_5m_2026-02-17_2026-04-28.csv
if [ -f "$one" ] && [ -f "$five" ]; then
    run bt_es1m --source file --file "$one"
    run bt_es5m --source file --file "$five" --timeframe 5m
    run bt_es5m_sub --source file --file "$one" --timeframe 5m --sub-bars 1m
    mesdesk scan --source file --file "$one" --days-back 400 --csv "$out/scan_es1m.csv" >/dev/null 2>&1 || echo "FAILED scan_es1m" >&2
    mesdesk scan --source file --file "$five" --days-back 400 --csv "$out/scan_es5m.csv" >/dev/null 2>&1 || echo "FAILED scan_es5m" >&2
fi
cd "$out" && find . \( -name 'trades.csv' -o -name 'journal.csv' -o -name 'journal.parquet' -o -name 'scan_*.csv' \) | sort | xargs sha256sum

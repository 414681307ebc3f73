"""Setups: the scalper's three entry patterns (ORB retest-go, 20-EMA pullback, VWAP rejection) and the
measured-move (ABC) scanner.

`mesdesk.setups.scalper.detect_candidates` runs the scalper's patterns and scores each candidate with the
prefilter; `mesdesk.setups.measured_move_scan` runs the scanner.
"""

"""Setups: the scalper's three entry patterns and the measured-move (ABC) scanner.

`mesdesk.setups.scalper.detect_candidates` runs ORB retest-go, 20-EMA pullback and VWAP rejection and
scores each candidate with the prefilter; `mesdesk.setups.measured_move` finds Halsey ABC signals.
"""

"""Setups: the scalper's three entry patterns (ORB retest-go, 20-EMA pullback, VWAP rejection) and the
measured-move (ABC) scanner.

`mesdesk.setups.scalper.detect_candidates` runs the scalper's setups and scores each candidate with the prefilter.
"""

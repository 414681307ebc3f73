"""Setups: the scalper's three entry patterns (ORB retest-go, 20-EMA pullback, VWAP rejection).

`mesdesk.setups.scalper.detect_candidates` runs them all and scores each candidate with the prefilter.
"""

"""Setups: the scalper's candidates and the measured-move (ABC) scanner."""

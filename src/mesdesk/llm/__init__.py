"""LLM access shared by the deciders and the forecaster: the SDK clients, the budget ledger, the answer cache.

Beneath both `mesdesk.decide` and `mesdesk.forecast`; imports nothing of theirs.
"""

"""Deciders: take/skip answers for candidates (LLM, local model, rules)."""

"""Forecasts of MES returns per horizon: point-in-time features, the quant baseline (ridge), a small MLP,
the measured-move adjustment, LLM adjustment and the AutoGluon TimeSeries trainer. See docs/forecast.md."""

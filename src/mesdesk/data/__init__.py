"""Market data: sources, files, providers, the synthetic market, resampling and the cache."""

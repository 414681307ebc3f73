"""Learning: fingerprints, hard negatives, counterfactual outcomes; point-in-time only."""

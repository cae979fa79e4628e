"""Training stage: OpenRLHF (GPU clusters) and TRL (one machine) with the estimators of rsrl.estimators."""

"""Model lifecycle: the registry (versions, aliases) and the retraining loop."""

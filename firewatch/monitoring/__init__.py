"""Monitoring jobs: `firewatch drift` (scheduled batch drift of each camera against a reference)."""

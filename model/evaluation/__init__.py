"""Evaluation: metrics reports, false alarms, small-fire and sequence checks, comparisons."""

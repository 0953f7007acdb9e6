"""Streaming mode: Pub/Sub frames in, BigQuery rows and Pub/Sub alerts out."""

"""Batch mode: folders, globs, TFRecords or a BigQuery query in; rows to BigQuery or files."""

"""Training data: synthetic and real images, ingest to TFRecords, feedback examples."""

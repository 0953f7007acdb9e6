"""Export: the SavedModel contract (signatures, metadata, files in MODEL_DIR)."""

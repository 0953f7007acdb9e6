"""Training: train, fine-tune, and restore an exported model for more training."""

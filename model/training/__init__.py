"""Training: backbones, train, fine-tune, restore an exported model for training."""

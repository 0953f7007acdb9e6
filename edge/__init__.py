"""Edge deployment: TFLite variants of the exported model and a CPU runner with the pipeline's confirmation."""

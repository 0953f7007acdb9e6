"""Vertex AI jobs for the model: training (CustomJob), tuning (HyperparameterTuningJob), an AutoML baseline."""

"""Hyperparameter search over `firewatch train`: one search space for local Optuna runs and Vertex AI tuning."""

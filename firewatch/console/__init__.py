"""The operator console (`firewatch console`): live alerts, camera board, alert evidence, verdicts, uploads."""

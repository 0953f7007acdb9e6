"""Firewatch model lifecycle: demo data, ingest to TFRecords, training, evaluation, export.

Jobs (each with one pydantic config in `model.config`): `model.data.synth` (procedural demo
data), `model.data.ingest` (Beam: images -> TFRecords), `model.training.train`, `model.evaluation.evaluate`,
`model.export.export`; `firewatch.core.model_contract` loads an exported model for the pipelines.
"""

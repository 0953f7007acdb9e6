"""Firewatch model lifecycle: demo data, ingest to TFRecords, training, evaluation, export.

Jobs (each with one pydantic config in `model.config`): `model.synth` (procedural demo
data), `model.ingest` (Beam: images -> TFRecords), `model.train`, `model.evaluate`,
`model.export`; `firewatch.core.model_contract` loads an exported model for the pipelines.
"""

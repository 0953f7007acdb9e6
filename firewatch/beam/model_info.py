"""What the pipelines need to know about the model when the graph is built (read from its
`firewatch_model.json`, without loading TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass

from firewatch.errors import UserError


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about the model at construction time."""

    model_dir: str
    model_version: str
    image_size: int
    threshold: float

    @classmethod
    def read(cls, model_dir: str) -> ModelInfo:
        from firewatch.cloud.models import read_metadata

        try:
            meta = read_metadata(model_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(f"--model {model_dir}: {exc}") from None
        return cls(model_dir, meta.model_version, meta.image_size, meta.threshold)

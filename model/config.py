"""One pydantic configuration model per model job; CLI flags map 1:1 to their fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.cloud.storage import is_remote
from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.confirm import ConfirmConfig
from model.architectures.backbones import BACKBONE_NAMES

Backbone = Literal[BACKBONE_NAMES]  # type: ignore[valid-type]  # the registry's names, in its order


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def no_trailing_slash(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value.rstrip("/") if value != "/" else value


def local_folder(value: str | None) -> str | None:
    """Outputs written with plain file I/O: a gs:// (or other URL) prefix would become a local folder named 'gs:'."""
    if value is None:
        return None
    value = no_trailing_slash(value)
    if is_remote(value):
        raise ValueError(f"must be a local folder, not a remote path ({value}); write locally and copy it up")
    return value


class SynthConfig(_Config):
    """`firewatch data synth`: procedural demo images written as OUT/<label>/*.jpg."""

    out: str
    count: int = Field(2000, ge=2, le=1_000_000, description="number of images (half fire, half not)")
    seed: int = Field(0, ge=0)
    size: int = Field(192, ge=64, le=1024, description="image side in pixels")
    workers: int = Field(2, ge=1, le=64)

    _v = field_validator("out")(local_folder)


class IngestConfig(_Config):
    """`firewatch data ingest`: images -> sharded TFRecords split train/valid/test (Beam)."""

    input: str = Field(description="ROOT folder or gs:// prefix laid out as ROOT/<label>/*.jpg")
    output: str = Field(description="output folder or gs:// prefix for TFRecords and ingest_summary.json")
    num_shards: int = Field(0, ge=0, le=10_000, description="shards per split; 0 lets the runner choose")
    beam_args: list[str] = Field(default_factory=list, description="extra Beam pipeline options")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment on Dataflow)")

    _v = field_validator("input", "output")(no_trailing_slash)

    def pipeline_args(self) -> list[str]:
        """Beam flags for the job, through the same path as the streaming and batch jobs (`--project`
        is this config's field and is passed on to Beam, resolved from the environment on Dataflow)."""
        from firewatch.config.scoring import with_project

        return with_project(list(self.beam_args), self.project, need_project=False)


class TrainConfig(_Config):
    """`firewatch train`: tf.data over TFRecords -> Keras model -> threshold on valid -> export."""

    data: str = Field(description="TFRecord folder written by `firewatch data ingest`")
    output: str = Field(description="MODEL_DIR: receives the exported SavedModel + firewatch_model.json")
    backbone: Backbone = "small_cnn"
    epochs: int = Field(4, ge=1, le=1000)
    fine_tune_epochs: int = Field(2, ge=0, le=1000, description="mobilenet_v2 only: epochs with top unfrozen")
    batch_size: int = Field(32, ge=1, le=4096)
    image_size: int = Field(128, ge=32, le=512)
    learning_rate: float = Field(3e-3, gt=0, le=1.0)
    target_recall: float = Field(0.98, gt=0, le=1.0, description="threshold is chosen on valid for this recall")
    augment: bool = True
    augment_strength: float = Field(1.0, ge=0, le=2.0, description="scales crop/brightness/contrast ranges")
    colour_augment: bool = Field(
        False, description="saturation/hue jitter and some grey images, so that colour alone cannot decide"
    )
    dropout: float = Field(0.2, ge=0, lt=1.0, description="dropout before the classifier head")
    fine_tune_from_block: int = Field(
        14, ge=0, le=18, description="mobilenet_v2 only: blocks features.N..18 are unfrozen for fine-tuning"
    )
    target_precision: float = Field(
        0.95, gt=0, le=1.0, description="valid recall at this precision is reported (the tuning metric)"
    )
    report_hypertune: bool = Field(
        False, description="report the tuning metric with cloudml-hypertune (Vertex AI tuning trials)"
    )
    seed: int = Field(0, ge=0)
    work_dir: str | None = Field(None, description="checkpoints + history; default <output>.training")
    data_description: str = Field("synthetic procedural demo data", min_length=1)
    verbose: int = Field(1, ge=0, le=2, description="Keras progress output (1 = progress bar)")
    feedback: str | None = Field(
        None, description="folder written by `firewatch data from-feedback`: its frames join the train split"
    )
    feedback_weight: int = Field(
        4, ge=1, le=100, description="each feedback training frame is repeated this many times per epoch"
    )
    feedback_holdout: float = Field(
        0.25, ge=0, lt=1, description="share of feedback alerts held out for evaluation (split by alert id hash)"
    )

    _v = field_validator("data", "output")(no_trailing_slash)
    _w = field_validator("work_dir")(local_folder)
    _f = field_validator("feedback")(local_folder)


class TrainFileConfig(_Config):
    """`firewatch train --config FILE`: train options from a JSON file (the flags given win)."""

    config: str | None = Field(None, description="JSON file of train options (flags given here win)")


class RealNegativesConfig(_Config):
    """`python -m model.data.real_negatives`: fetch and prepare the real no-fire photos."""

    out: str = Field("artifacts/real-negatives", description="folder for the photos and manifest.json")
    cache: str | None = Field(None, description="where the .deb files are unpacked (default OUT.cache)")


class FineTuneConfig(_Config):
    """`firewatch model fine-tune`: an exported model + operators' feedback -> a new model version,
    compared with the old one on held-out feedback frames and the base test split."""

    model: str = Field(description="exported MODEL_DIR to start from (small_cnn or mobilenet_v2)")
    data: str = Field(description="TFRecord folder of the base set (`firewatch data ingest`)")
    feedback: str = Field(description="folder written by `firewatch data from-feedback`")
    output: str = Field(description="new MODEL_DIR (must differ from --model)")
    epochs: int = Field(3, ge=1, le=100)
    learning_rate: float = Field(5e-4, gt=0, le=1.0, description="low: the weights are already trained")
    batch_size: int = Field(32, ge=1, le=4096)
    feedback_weight: int = Field(
        4, ge=1, le=100, description="each feedback training frame is repeated this many times per epoch"
    )
    feedback_holdout: float = Field(
        0.25, ge=0, lt=1, description="share of feedback alerts held out for evaluation (split by alert id hash)"
    )
    augment: bool = True
    augment_strength: float = Field(1.0, ge=0, le=2.0)
    colour_augment: bool = False
    target_recall: float = Field(0.98, gt=0, le=1.0, description="the new threshold is chosen on valid for this")
    fine_tune_from_block: int = Field(14, ge=0, le=18, description="mobilenet_v2 only: blocks N..18 are trained")
    seed: int = Field(0, ge=0)
    verbose: int = Field(1, ge=0, le=2, description="Keras progress output (1 = progress bar)")

    _v = field_validator("model", "data", "output")(no_trailing_slash)
    _f = field_validator("feedback")(local_folder)


class EvaluateConfig(_Config):
    """`firewatch evaluate`: metrics on the test split of an exported model."""

    model: str = Field(description="exported MODEL_DIR (local or gs://)")
    data: str = Field(description="TFRecord folder written by `firewatch data ingest`")
    output: str = Field(description="folder for evaluation.json and the PNGs")
    split: Literal["train", "valid", "test"] = "test"
    threshold: float | None = Field(None, ge=0, le=1, description="override the model's threshold")
    target_recall: float = Field(0.98, gt=0, le=1.0)
    batch_size: int = Field(64, ge=1, le=4096)
    top_losses: int = Field(16, ge=0, le=100)
    negatives: str | None = Field(
        None, description="folder of real photos without fire: tiled and scored, false alarms reported"
    )
    negatives_max_side: int = Field(1280, ge=64, le=8192, description="photos are shrunk to this longer side first")

    _v = field_validator("model", "data")(no_trailing_slash)
    _n = field_validator("negatives")(local_folder)
    _o = field_validator("output")(local_folder)


class FeedbackReportConfig(_Config):
    """`firewatch model feedback-report`: old vs new model on held-out feedback frames and the base test split."""

    before: str = Field(description="the old exported MODEL_DIR")
    after: str = Field(description="the new exported MODEL_DIR (trained with --feedback or fine-tuned)")
    data: str = Field(description="TFRecord folder of the base set (`firewatch data ingest`)")
    feedback: str = Field(description="folder written by `firewatch data from-feedback`")
    feedback_holdout: float = Field(0.25, ge=0, lt=1, description="the held-out share the new model was trained with")
    output: str | None = Field(None, description="folder for feedback_evaluation.json (default: the --after folder)")
    batch_size: int = Field(64, ge=1, le=4096)

    _v = field_validator("before", "after", "data")(no_trailing_slash)
    _f = field_validator("feedback", "output")(local_folder)


class DemoConfig(_Config):
    """`firewatch model demo`: synth -> ingest -> train -> export a small demo model."""

    output: str
    count: int = Field(1600, ge=100, le=100_000)
    epochs: int = Field(7, ge=1, le=100, description="model.demo.DEMO_EPOCHS: the recipe (scripts/bench_small_fire.py)")
    seed: int = Field(0, ge=0)
    force: bool = False

    _v = field_validator("output")(local_folder)


class RegistryConfig(_Config):
    """What every `firewatch model` registry command shares: the registry folder, who acts, and the
    `model_versions` table each event is also written to."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    registry: str = Field(description="the model registry folder (local path or gs://)")
    by: str | None = Field(None, description="who acts, for the lineage (default: $FIREWATCH_USER or the login)")
    project: str | None = Field(None, description="Google Cloud project of the model_versions table")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    model_versions_table: str = Field(
        DEFAULT_NAMES.model_versions_table, description="table each registry event goes to (empty: none)"
    )

    _r = field_validator("registry")(no_trailing_slash)


class RegisterConfig(RegistryConfig):
    """`firewatch model register REGISTRY MODEL_DIR`: copy an export in as a new version, with its lineage."""

    model_dir: str = Field(description="the exported model folder (local path or gs://)")
    data: tuple[str, ...] = Field(
        (), description="what it was trained on (TFRecord folders, the from-feedback folder): hashed into the lineage"
    )
    training_config: str | None = Field(None, description="JSON file of the training options (e.g. best_config.json)")
    parent_version: str | None = Field(
        None, description="the version it was fine-tuned from (default: the export's metrics.fine_tuned_from)"
    )

    _m = field_validator("model_dir")(no_trailing_slash)


class PromoteConfig(RegistryConfig):
    """`firewatch model promote REGISTRY VERSION`: point `current` at a version (the running jobs follow)."""

    version: str = Field(description="the registered version")
    margin: float = Field(
        0.02, ge=0, le=1, description="how much worse than current's recall, precision or false-alarm rate is accepted"
    )
    force: bool = Field(False, description="promote even when its evaluation is worse than current's")


class ShadowConfig(RegistryConfig):
    """`firewatch model shadow REGISTRY VERSION`: point `shadow` at a version (`none` clears it)."""

    version: str = Field(description="the registered version, or none")


class RollbackConfig(RegistryConfig):
    """`firewatch model rollback REGISTRY`: point `current` back at the version it named before."""


class VersionsConfig(RegistryConfig):
    """`firewatch model versions REGISTRY`: the registered versions, their evaluation and pointers."""


class CompareConfig(_Config):
    """`firewatch model compare REGISTRY`: the shadow version against the version that scored the same
    frames on the main path, from BigQuery (shadow_predictions joined to predictions on frame_key):
    agreement, fire rates, the alerts each would have opened (the job's confirmation replayed on each
    version's scores) and time to alert on the episodes both would have alerted on."""

    registry: str = Field(description="the model registry folder (local path or gs://) whose `shadow` is compared")
    version: str | None = Field(
        None, description="the shadow version to compare (default: the one `shadow` names; unset: every one)"
    )
    since: str = Field("7d", description="frames scored in this window back from now: 1h, 2d, 7d")
    project: str | None = Field(None, description="Google Cloud project of the tables")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    predictions_table: str = Field(DEFAULT_NAMES.predictions_table, description="the main path's rows")
    shadow_predictions_table: str = Field(DEFAULT_NAMES.shadow_predictions_table, description="the shadow rows")
    json_output: bool = Field(False, description="print the comparison as JSON", json_schema_extra={"flag": "json"})
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)

    _r = field_validator("registry")(no_trailing_slash)

    @field_validator("since")
    @classmethod
    def _since(cls, value: str) -> str:
        from firewatch.clients.query import parse_duration

        parse_duration(value)
        return value


class LoopConfig(_Config):
    """`firewatch model loop`: verdicts -> `data from-feedback` -> fine-tune the registry's `current` ->
    evaluate -> register (lineage: parent, data hashes, evaluation) -> point `shadow` at it. Never promotes."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    registry: str = Field(description="the model registry (local path or gs://); its `current` version is fine-tuned")
    data: str = Field(description="TFRecord folder of the base set (`firewatch data ingest`), local or gs://")
    work: str = Field(description="work folder (local or gs://): each run writes WORK/<run id>/feedback and model")
    min_verdicts: int = Field(
        20, ge=1, description="fewer verdicts than this since `current` was registered: nothing to do (exit 0)"
    )
    # the feedback source: the options of `firewatch data from-feedback`
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset (feedback and model_versions tables)")
    feedback_table: str = Field(DEFAULT_NAMES.feedback_table, description="feedback table")
    allowed_buckets: tuple[str, ...] = Field((DEFAULT_NAMES.frames_bucket,), description="buckets frames may come from")
    since_days: float = Field(3650.0, gt=0, description="only verdicts given in the last N days")
    max_object_bytes: int = Field(20 * 1024 * 1024, gt=0, description="largest frame object copied")
    # the registry's event table and actor
    model_versions_table: str = Field(
        DEFAULT_NAMES.model_versions_table, description="table each registry event goes to (empty: none)"
    )
    by: str | None = Field(None, description="who acts, for the lineage (default: $FIREWATCH_USER or the login)")
    # fine-tune and evaluate (`firewatch model fine-tune`, `firewatch evaluate`)
    epochs: int = Field(3, ge=1, le=100)
    learning_rate: float = Field(5e-4, gt=0, le=1.0, description="low: the weights are already trained")
    batch_size: int = Field(32, ge=1, le=4096)
    feedback_weight: int = Field(4, ge=1, le=100, description="each feedback frame is repeated this many times")
    feedback_holdout: float = Field(0.25, ge=0, lt=1, description="share of feedback alerts held out for the report")
    target_recall: float = Field(0.98, gt=0, le=1.0, description="the new threshold is chosen on valid for this")
    seed: int = Field(0, ge=0)
    negatives: str | None = Field(None, description="folder of real photos without fire for `evaluate` (optional)")
    verbose: int = Field(0, ge=0, le=2, description="Keras progress output while fine-tuning")

    _v = field_validator("registry", "data", "work")(no_trailing_slash)
    _n = field_validator("negatives")(local_folder)

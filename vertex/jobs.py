"""Vertex AI job specifications built with `google-cloud-aiplatform`'s own types, and their submission.

* `custom_job`: `firewatch train` in the project's container (the image's entrypoint is replaced by
  the `firewatch` command) on one GPU worker; with more than one GPU, training builds the model
  under `tf.distribute.MirroredStrategy` (`model.training.train.distribution_strategy`). Data and model on gs://.
* `tuning_job`: a HyperparameterTuningJob over `tuning.space.SEARCH_SPACE` (the same space as
  `firewatch tune`); each trial runs `firewatch train --report-hypertune`, which reports
  `valid_recall_at_precision` with cloudml-hypertune, and writes its model to $AIP_MODEL_DIR.
* `automl_specs`: an image Dataset, its import (a CSV `ML_USE,GCS_FILE_PATH,LABEL` generated from
  the ingest TFRecords, so AutoML trains, validates and tests on the very same split) and an AutoML
  image-classification TrainingPipeline that keeps that split (filter split on ml_use).

Building a spec needs no network; `submit_*` calls the Vertex AI API (only with `--submit`).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from firewatch.core.records import SPLITS
from model.training.train import TUNING_METRIC
from tuning.space import SEARCH_SPACE, Param, restrict
from vertex.config import VertexAutoMLConfig, VertexLoopConfig, VertexTrainConfig, VertexTuneConfig

ML_USE = {"train": "training", "valid": "validation", "test": "test"}
ML_USE_LABEL = "labels.aiplatform.googleapis.com/ml_use"
DATASET_PLACEHOLDER = "DATASET_ID"  # filled in with the created dataset's id on --submit


def parent(project: str, region: str) -> str:
    return f"projects/{project}/locations/{region}"


def worker_pool(config: VertexTrainConfig | VertexTuneConfig | VertexLoopConfig, args: list[str]):
    from google.cloud.aiplatform_v1.types import AcceleratorType, ContainerSpec, DiskSpec, MachineSpec, WorkerPoolSpec

    machine = MachineSpec(machine_type=config.machine_type)
    if config.accelerator_count:
        machine.accelerator_type = AcceleratorType[config.accelerator_type]
        machine.accelerator_count = config.accelerator_count
    return WorkerPoolSpec(
        machine_spec=machine,
        replica_count=1,  # one worker, all its GPUs: MirroredStrategy (multi-worker would need a chief/worker setup)
        disk_spec=DiskSpec(boot_disk_type="pd-ssd", boot_disk_size_gb=config.boot_disk_gb),
        container_spec=ContainerSpec(image_uri=config.image, command=["firewatch"], args=args),
    )


def train_args(config: VertexTrainConfig | VertexTuneConfig, *extra: str) -> list[str]:
    return ["train", f"--data={config.data}", *extra, *config.train_args]


def custom_job(config: VertexTrainConfig):
    from google.cloud.aiplatform_v1.types import CustomJob, CustomJobSpec, GcsDestination

    spec = CustomJobSpec(
        worker_pool_specs=[worker_pool(config, train_args(config, f"--output={config.output}"))],
        base_output_directory=GcsDestination(output_uri_prefix=f"{config.output}.vertex"),
    )
    if config.service_account:
        spec.service_account = config.service_account
    return CustomJob(display_name=config.display_name or "firewatch-train", job_spec=spec)


def parameter_spec(p: Param):
    from google.cloud.aiplatform_v1.types import StudySpec

    spec = StudySpec.ParameterSpec
    out = spec(parameter_id=p.name)
    if p.kind == "categorical":  # numbers too (image_size): passed back as "--image_size=128", never "128.0"
        out.categorical_value_spec = spec.CategoricalValueSpec(values=[str(c) for c in p.choices])
    elif p.kind == "int":
        out.integer_value_spec = spec.IntegerValueSpec(min_value=int(p.low), max_value=int(p.high))
    else:
        out.double_value_spec = spec.DoubleValueSpec(min_value=p.low, max_value=p.high)
    if p.kind != "categorical":
        out.scale_type = spec.ScaleType.UNIT_LOG_SCALE if p.log else spec.ScaleType.UNIT_LINEAR_SCALE
    return out


def study_spec(space: tuple[Param, ...]):
    """The StudySpec of a search space; parameters that matter for one backbone only are conditional on it."""
    from google.cloud.aiplatform_v1.types import StudySpec

    specs = {p.name: parameter_spec(p) for p in space if p.only_for is None}
    for p in space:
        if p.only_for is None:
            continue
        parent_param = next(q for q in space if q.name == "backbone")
        if p.only_for not in parent_param.choices:
            continue  # that backbone is not searched: nor is its parameter
        specs["backbone"].conditional_parameter_specs.append(
            StudySpec.ParameterSpec.ConditionalParameterSpec(
                parameter_spec=parameter_spec(p),
                parent_categorical_values=StudySpec.ParameterSpec.ConditionalParameterSpec.CategoricalValueCondition(
                    values=[p.only_for]
                ),
            )
        )
    return StudySpec(
        metrics=[StudySpec.MetricSpec(metric_id=TUNING_METRIC, goal=StudySpec.MetricSpec.GoalType.MAXIMIZE)],
        parameters=list(specs.values()),
        measurement_selection_type=StudySpec.MeasurementSelectionType.LAST_MEASUREMENT,
    )


def tuning_job(config: VertexTuneConfig):
    from google.cloud.aiplatform_v1.types import CustomJobSpec, GcsDestination, HyperparameterTuningJob

    space = restrict(SEARCH_SPACE, {"backbone": config.backbones})
    trial = CustomJobSpec(
        # no --output: each trial's model goes to $AIP_MODEL_DIR (OUTPUT/<trial>/model), set by Vertex AI
        worker_pool_specs=[worker_pool(config, train_args(config, "--report-hypertune", "--verbose=2"))],
        base_output_directory=GcsDestination(output_uri_prefix=config.output),
    )
    if config.service_account:
        trial.service_account = config.service_account
    return HyperparameterTuningJob(
        display_name=config.display_name or "firewatch-tune",
        study_spec=study_spec(space),
        max_trial_count=config.max_trials,
        parallel_trial_count=config.parallel_trials,
        max_failed_trial_count=config.max_failed_trials,
        trial_job_spec=trial,
    )


def manifest_rows(data_dir: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(ingest input root, [(split, source_path, label)]) from the ingest TFRecords and ingest_summary.json."""
    import json

    import tensorflow as tf

    from firewatch.core.records import parse_example
    from model.data.dataset import local_data_dir, split_files
    from model.data.ingest import SUMMARY_NAME

    local = local_data_dir(data_dir)
    try:
        with open(f"{local}/{SUMMARY_NAME}") as f:
            root = json.load(f)["input"]
    except OSError:
        raise FileNotFoundError(f"{data_dir}/{SUMMARY_NAME} not found: run `firewatch data ingest` first") from None
    rows = []
    for split in SPLITS:
        for ex in tf.data.TFRecordDataset(split_files(local, split)).map(parse_example):
            rows.append((split, ex["source_path"].numpy().decode(), ex["label"].numpy().decode()))
    return root, rows


def import_csv(root: str, rows: list[tuple[str, str, str]], images_uri: str | None) -> str:
    """AutoML's single-label image import file: `ML_USE,GCS_FILE_PATH,LABEL`, one line per ingested image."""
    root = root.rstrip("/")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for split, path, label in sorted(rows, key=lambda r: (SPLITS.index(r[0]), r[1])):
        if images_uri:
            if not path.startswith(root + "/"):
                raise ValueError(f"{path} is not under the ingest input {root}")
            uri = f"{images_uri.rstrip('/')}/{path[len(root) + 1 :]}"
        elif path.startswith("gs://"):
            uri = path
        else:
            raise ValueError(
                f"ingest read local files ({root}); upload that folder to Cloud Storage and pass --images-uri gs://..."
            )
        writer.writerow([ML_USE[split], uri, label])
    return out.getvalue()


def automl_specs(config: VertexAutoMLConfig, dataset_id: str = DATASET_PLACEHOLDER):
    """(Dataset, ImportDataConfig, TrainingPipeline) of the AutoML image-classification baseline."""
    from google.cloud.aiplatform import schema
    from google.cloud.aiplatform_v1.types import (
        Dataset,
        FilterSplit,
        GcsSource,
        ImportDataConfig,
        InputDataConfig,
        Model,
        TrainingPipeline,
    )
    from google.protobuf import json_format, struct_pb2

    name = config.display_name or "firewatch-automl"
    dataset = Dataset(display_name=f"{name}-images", metadata_schema_uri=schema.dataset.metadata.image)
    import_config = ImportDataConfig(
        gcs_source=GcsSource(uris=[config.import_file_uri]),
        import_schema_uri=schema.dataset.ioformat.image.single_label_classification,
    )
    inputs = json_format.ParseDict(
        {"modelType": config.model_type, "budgetMilliNodeHours": config.budget_milli_node_hours, "multiLabel": False},
        struct_pb2.Value(),
    )
    pipeline = TrainingPipeline(
        display_name=name,
        training_task_definition=schema.training_job.definition.automl_image_classification,
        training_task_inputs=inputs,
        input_data_config=InputDataConfig(
            dataset_id=dataset_id,
            filter_split=FilterSplit(
                training_filter=f"{ML_USE_LABEL}=training",
                validation_filter=f"{ML_USE_LABEL}=validation",
                test_filter=f"{ML_USE_LABEL}=test",
            ),
        ),
        model_to_upload=Model(display_name=name),
    )
    return dataset, import_config, pipeline


def to_json(message: Any) -> str:
    """The exact request body, as the REST API and `gcloud ai ... --config` read it."""
    return type(message).to_json(
        message, indent=2, use_integers_for_enums=False, always_print_fields_with_no_presence=False
    )


def _client(kind: str, region: str) -> Any:
    from google.cloud import aiplatform_v1

    cls = getattr(aiplatform_v1, kind)
    return cls(client_options={"api_endpoint": f"{region}-aiplatform.googleapis.com"})


def submit_custom_job(config: VertexTrainConfig) -> str:
    job = _client("JobServiceClient", config.region).create_custom_job(
        parent=parent(config.project, config.region), custom_job=custom_job(config)
    )
    return job.name


def submit_tuning_job(config: VertexTuneConfig) -> str:
    job = _client("JobServiceClient", config.region).create_hyperparameter_tuning_job(
        parent=parent(config.project, config.region), hyperparameter_tuning_job=tuning_job(config)
    )
    return job.name


def submit_automl(config: VertexAutoMLConfig, csv_text: str) -> str:
    """Upload the import file, create and fill the dataset, start the pipeline; return the pipeline name."""
    from firewatch.cloud.clients import storage_client

    bucket, _, blob = config.import_file_uri[len("gs://") :].partition("/")
    storage_client(config.project).bucket(bucket).blob(blob).upload_from_string(csv_text, content_type="text/csv")
    datasets = _client("DatasetServiceClient", config.region)
    dataset, import_config, _ = automl_specs(config)
    created = datasets.create_dataset(parent=parent(config.project, config.region), dataset=dataset).result()
    datasets.import_data(name=created.name, import_configs=[import_config]).result()
    _, _, pipeline = automl_specs(config, dataset_id=created.name.rsplit("/", 1)[-1])
    return (
        _client("PipelineServiceClient", config.region)
        .create_training_pipeline(parent=parent(config.project, config.region), training_pipeline=pipeline)
        .name
    )

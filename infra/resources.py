"""Firewatch's cloud resources, from the one declaration in `infra/resources.json`.

`ResourceNames` holds the (overridable) names, defaulting to the declaration; `apply(names)` creates
topics, subscriptions, the dataset, its tables (schemas from `infra/schemas/*.json`) and buckets,
skipping what exists; `destroy(names)` deletes them. Both are idempotent and use the same client
calls on the emulators and on a real project (clients come from `firewatch.cloud.clients`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from firewatch.cloud import clients as gcp
from firewatch.core.names import check_bucket_name, resource_path
from firewatch.errors import UserError

INFRA_DIR = Path(__file__).resolve().parent
DECLARATION = INFRA_DIR / "resources.json"

_TOPIC_RE = re.compile(r"^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
_DATASET_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_TABLE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,1024}$")
_PROJECT_RE = re.compile(r"^([a-z0-9.\-]+:)?[a-z][a-z0-9\-]{4,28}[a-z0-9]$")
_SUFFIX_RE = re.compile(r"^[a-z0-9]{1,20}$")
NAMED_SECTIONS = ("topics", "subscriptions", "tables", "buckets")


def check_project_id(value: str) -> str:
    """A Google Cloud project id (the emulators' too), or ValueError saying what one looks like."""
    if not _PROJECT_RE.match(value):
        raise ValueError(f"{value!r} is not a valid project id (6-30 chars: lowercase letters, digits, -)")
    return value


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    """A check: the value when `pattern` matches it, else ValueError naming `what` it must be."""

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return check


_check_pubsub_name = _matching(_TOPIC_RE, "Pub/Sub name (3-255 chars, starts with a letter, not goog)")
_check_dataset = _matching(_DATASET_RE, "dataset id (letters, digits, underscores)")
_check_table = _matching(_TABLE_RE, "table id (letters, digits, underscores, dashes)")


def project_bucket(project: str, key: str = "frames_bucket") -> str:
    """A declared bucket's name on a real project, as infra/terraform names it: `<project>-<declared name>`."""
    return f"{project}-{declaration()['buckets'][key]['name']}"


_CHECKS: dict[str, Callable[[str], str]] = {
    "topics": _check_pubsub_name,
    "subscriptions": _check_pubsub_name,
    "tables": _check_table,
    "buckets": check_bucket_name,
}


@cache
def declaration() -> dict[str, Any]:
    """The parsed `infra/resources.json`."""
    return json.loads(DECLARATION.read_text())


def _default(key: str) -> str:
    return str(declaration()[key])


def section_of(key: str) -> str | None:
    """The declaration's section ("topics", "tables", ...) that names the field `key`; None for others."""
    return next((section for section in NAMED_SECTIONS if key in declaration()[section]), None)


def load_schema(table_key: str) -> list[dict[str, Any]]:
    """The BigQuery schema (API JSON form) declared for `table_key`, e.g. "predictions_table"."""
    path = INFRA_DIR / declaration()["tables"][table_key]["schema"]
    return json.loads(path.read_text())


def schema_for_table(table_name: str) -> list[dict[str, Any]]:
    """The declared schema by table name (e.g. "predictions"), for writers and tests."""
    for key, spec in declaration()["tables"].items():
        if spec["name"] == table_name:
            return load_schema(key)
    raise KeyError(f"no table named {table_name!r} in {DECLARATION}")


class _Names(BaseModel):
    """The fields every ResourceNames has besides the declared names, and the checks of all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(default_factory=partial(_default, "project"), description="Google Cloud project id.")
    location: str = Field(default_factory=partial(_default, "location"), description="BigQuery dataset location.")
    bucket_location: str = Field(default_factory=partial(_default, "bucket_location"), description="Buckets' location.")
    dataset: str = Field(default_factory=lambda: str(declaration()["dataset"]["name"]), description="BigQuery dataset.")

    _project = field_validator("project")(lambda value: check_project_id(value))
    _dataset = field_validator("dataset")(lambda value: _check_dataset(value))

    @field_validator("*")
    @classmethod
    def _declared_name(cls, value: Any, info: ValidationInfo) -> Any:
        section = section_of(info.field_name or "")
        return _CHECKS[section](value) if section else value


def _declared_fields() -> dict[str, Any]:
    """One `str` field per declared topic, subscription, table and bucket, defaulting to its declared name."""
    decl = declaration()
    return {
        key: (str, Field(str(spec["name"]), description=spec.get("description")))
        for section in NAMED_SECTIONS
        for key, spec in decl[section].items()
    }


class ResourceNames(create_model("_DeclaredNames", __base__=_Names, **_declared_fields())):  # type: ignore[misc]
    """Names of every Firewatch resource, one field per entry of infra/resources.json (`frames_topic`,
    `predictions_table`, `frames_bucket`, ...), defaulting to the declared name; all overridable."""

    # -- derived ids -----------------------------------------------------------------------------

    def with_suffix(self, suffix: str) -> ResourceNames:
        """Names made unique with `suffix` (topics, subscriptions, bucket: `-s`; dataset: `_s`)."""
        if not _SUFFIX_RE.match(suffix):
            raise ValueError(f"suffix {suffix!r} must be 1-20 lowercase letters/digits")
        update: dict[str, str] = {"dataset": f"{self.dataset}_{suffix}"}
        for key in (*self.topic_fields(), *self.subscription_fields(), *self.bucket_fields()):
            update[key] = f"{getattr(self, key)}-{suffix}"
        return self.model_copy(update=update)

    def on_project(self) -> ResourceNames:
        """The names on a real project, as infra/terraform gives them: bucket names are global, so
        each declared one gets the project as prefix (`<project>-firewatch-frames`, the name the jobs
        and `firewatch deploy` derive); names given explicitly are kept."""
        given = self.model_fields_set
        update = {key: project_bucket(self.project, key) for key in self.bucket_fields() if key not in given}
        return self.model_copy(update=update)

    @staticmethod
    def topic_fields() -> tuple[str, ...]:
        return tuple(declaration()["topics"])

    @staticmethod
    def subscription_fields() -> tuple[str, ...]:
        return tuple(declaration()["subscriptions"])

    @staticmethod
    def table_fields() -> tuple[str, ...]:
        return tuple(declaration()["tables"])

    @staticmethod
    def bucket_fields() -> tuple[str, ...]:
        return tuple(declaration()["buckets"])

    def topic_path(self, field: str = "frames_topic") -> str:
        return resource_path("topics", getattr(self, field), self.project)

    def subscription_path(self, field: str = "frames_subscription") -> str:
        return resource_path("subscriptions", getattr(self, field), self.project)

    def table_id(self, field: str = "predictions_table") -> str:
        """`project.dataset.table` for a table field, e.g. table_id("alerts_table")."""
        return f"{self.project}.{self.dataset}.{getattr(self, field)}"

    def dataset_id(self) -> str:
        return f"{self.project}.{self.dataset}"

    def bucket_uri(self, field: str = "frames_bucket") -> str:
        return f"gs://{getattr(self, field)}"


# -- apply / destroy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One thing apply/destroy did: kind (topic, ...), resource name, outcome (created, exists, ...)."""

    kind: str
    name: str
    outcome: str

    def __str__(self) -> str:
        return f"{self.kind:<13} {self.name:<60} {self.outcome}"


Reporter = Callable[[Action], None]


def _noop(_: Action) -> None:
    return None


class _Recorder:
    """Collects the actions of one apply/destroy and reports each as it happens."""

    def __init__(self, report: Reporter) -> None:
        self.actions: list[Action] = []
        self._report = report

    def __call__(self, kind: str, name: str, outcome: str) -> None:
        action = Action(kind, name, outcome)
        self.actions.append(action)
        self._report(action)


def apply(names: ResourceNames, report: Reporter = _noop) -> list[Action]:
    """Create every declared resource that does not exist yet; return what was done."""
    done = _Recorder(report)
    _apply_pubsub(names, done)
    _apply_bigquery(names, done)
    _apply_buckets(names, done)
    return done.actions


def _apply_pubsub(names: ResourceNames, done: _Recorder) -> None:
    from google.api_core import exceptions as gexc

    publisher = gcp.publisher_client()
    for key in names.topic_fields():
        path = names.topic_path(key)
        try:
            publisher.create_topic(name=path)
            done("topic", path, "created")
        except gexc.AlreadyExists:
            done("topic", path, "exists")
    subscriber = gcp.subscriber_client()
    try:
        for key, spec in declaration()["subscriptions"].items():
            path = names.subscription_path(key)
            request = subscription_request(names, key, spec)
            try:
                subscriber.create_subscription(request=request)
                done("subscription", path, "created")
            except gexc.AlreadyExists:
                done("subscription", path, "exists")
    finally:
        subscriber.close()


def subscription_request(names: ResourceNames, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The Pub/Sub CreateSubscription request for one declared subscription (infra/terraform's settings:
    retention, ack deadline, never expiring, and for alerts-sub and notify-sub a dead-letter topic with retry
    backoff). notify-sub is a push subscription on Google Cloud (notify.tf); here it is pulled."""
    request: dict[str, Any] = {
        "name": names.subscription_path(key),
        "topic": names.topic_path(spec["topic"]),
        "ack_deadline_seconds": int(spec.get("ack_deadline_seconds", 60)),
        "message_retention_duration": {"seconds": int(spec.get("retention_seconds", 604800))},
        "expiration_policy": {},  # never expire when idle
    }
    if spec.get("dead_letter_topic"):
        request["dead_letter_policy"] = {
            "dead_letter_topic": names.topic_path(spec["dead_letter_topic"]),
            "max_delivery_attempts": int(spec["max_delivery_attempts"]),
        }
    if spec.get("minimum_backoff_seconds") is not None:
        request["retry_policy"] = {
            "minimum_backoff": {"seconds": int(spec["minimum_backoff_seconds"])},
            "maximum_backoff": {"seconds": int(spec["maximum_backoff_seconds"])},
        }
    return request


def _apply_bigquery(names: ResourceNames, done: _Recorder) -> None:
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    decl = declaration()
    bq = gcp.bigquery_client(names.project)
    dataset = bigquery.Dataset(names.dataset_id())
    dataset.location = names.location
    dataset.description = decl["dataset"].get("description")
    try:
        bq.create_dataset(dataset)
        done("dataset", names.dataset_id(), "created")
    except gexc.Conflict:
        done("dataset", names.dataset_id(), "exists")
    for key, spec in decl["tables"].items():
        table_id = names.table_id(key)
        schema = [bigquery.SchemaField.from_api_repr(field) for field in load_schema(key)]
        table = bigquery.Table(table_id, schema=schema)
        table.description = spec.get("description")
        if spec.get("partition_field"):
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=spec["partition_field"]
            )
        if spec.get("clustering"):
            table.clustering_fields = list(spec["clustering"])
        try:
            bq.create_table(table)
            done("table", table_id, "created")
        except gexc.Conflict:
            done("table", table_id, _reconcile_schema(bq, table_id, schema))


def _apply_buckets(names: ResourceNames, done: _Recorder) -> None:
    from google.api_core import exceptions as gexc

    storage = gcp.storage_client(names.project)
    for key in names.bucket_fields():
        bucket_name = getattr(names, key)
        try:
            storage.create_bucket(bucket_name, location=names.bucket_location)
            done("bucket", names.bucket_uri(key), "created")
        except gexc.Conflict:
            try:
                storage.get_bucket(bucket_name)
            except gexc.Forbidden as exc:
                raise UserError(
                    f"bucket {bucket_name!r} exists but belongs to someone else; bucket names are global: "
                    "pass --frames-bucket with a name of your own (e.g. <project>-firewatch-frames)."
                ) from exc
            done("bucket", names.bucket_uri(key), "exists")


def _reconcile_schema(bq: Any, table_id: str, declared: list[Any]) -> str:
    """For an existing table: add declared columns it lacks (allowed when NULLABLE/REPEATED)."""
    table = bq.get_table(table_id)
    present = {field.name for field in table.schema}
    missing = [field for field in declared if field.name not in present]
    if not missing:
        return "exists"
    required = [field.name for field in missing if field.mode == "REQUIRED"]
    if required:
        return f"exists, SCHEMA DRIFT: missing REQUIRED column(s) {required}; recreate the table"
    table.schema = list(table.schema) + missing
    bq.update_table(table, ["schema"])
    return f"exists, added column(s) {[field.name for field in missing]}"


def destroy(names: ResourceNames, report: Reporter = _noop) -> list[Action]:
    """Delete every declared resource (data included); missing ones are skipped."""
    from google.api_core import exceptions as gexc

    done = _Recorder(report)
    subscriber = gcp.subscriber_client()
    try:
        for key in names.subscription_fields():
            path = names.subscription_path(key)
            try:
                subscriber.delete_subscription(subscription=path)
                done("subscription", path, "deleted")
            except gexc.NotFound:
                done("subscription", path, "absent")
    finally:
        subscriber.close()

    publisher = gcp.publisher_client()
    for key in names.topic_fields():
        path = names.topic_path(key)
        try:
            publisher.delete_topic(topic=path)
            done("topic", path, "deleted")
        except gexc.NotFound:
            done("topic", path, "absent")

    bq = gcp.bigquery_client(names.project)
    try:
        bq.get_dataset(names.dataset_id())
    except gexc.NotFound:
        done("dataset", names.dataset_id(), "absent")
    else:
        bq.delete_dataset(names.dataset_id(), delete_contents=True, not_found_ok=True)
        done("dataset", names.dataset_id(), "deleted")

    storage = gcp.storage_client(names.project)
    for key in names.bucket_fields():
        bucket_name = getattr(names, key)
        try:
            bucket = storage.get_bucket(bucket_name)
        except gexc.NotFound:
            done("bucket", names.bucket_uri(key), "absent")
            continue
        for blob in storage.list_blobs(bucket_name):
            blob.delete()
        bucket.delete()
        done("bucket", names.bucket_uri(key), "deleted")
    return done.actions

"""The one resource declaration: names, schemas, and apply/destroy on the emulators."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from firewatch.cloud import clients as gcp
from infra import resources
from infra.resources import ResourceNames


def test_defaults_come_from_the_declaration() -> None:
    names = ResourceNames()
    decl = json.loads(resources.DECLARATION.read_text())
    assert (names.frames_topic, names.alerts_topic, names.dead_letter_topic) == ("frames", "alerts", "dead-letters")
    assert names.frames_subscription == "frames-sub" and names.dataset == "firewatch"
    assert (names.predictions_table, names.dead_letters_table, names.alerts_table, names.explanations_table) == (
        "predictions",
        "dead_letters",
        "alerts",
        "explanations",
    )
    assert names.frames_bucket == "firewatch-frames"
    for section in ("topics", "subscriptions", "tables", "buckets"):
        for key, spec in decl[section].items():
            assert getattr(names, key) == spec["name"]


def test_every_table_has_a_schema_file_with_its_partition_and_cluster_columns() -> None:
    for key, spec in resources.declaration()["tables"].items():
        schema = resources.load_schema(key)
        columns = {field["name"]: field for field in schema}
        assert spec["partition_field"] in columns and columns[spec["partition_field"]]["type"] == "TIMESTAMP"
        assert set(spec["clustering"]) <= set(columns)
    top = {f["name"]: f for f in resources.schema_for_table("explanations")}
    assert top["top_regions"]["mode"] == "REPEATED" and top["top_regions"]["type"] == "RECORD"
    with pytest.raises(KeyError):
        resources.schema_for_table("nope")


def test_subscriptions_point_at_declared_topics() -> None:
    decl = resources.declaration()
    for spec in decl["subscriptions"].values():
        assert spec["topic"] in decl["topics"]


def test_on_a_real_project_buckets_are_named_as_terraform_names_them() -> None:
    names = ResourceNames(project="my-proj-1", models_bucket="shared-models")
    real = names.on_project()
    assert real.frames_bucket == "my-proj-1-firewatch-frames" and real.dataflow_bucket == "my-proj-1-firewatch-dataflow"
    assert real.builds_bucket == "my-proj-1-firewatch-builds" and real.models_bucket == "shared-models"  # given: kept
    assert (real.location, real.bucket_location) == ("EU", "europe-west1")


def test_the_alerts_subscription_dead_letters_undeliverable_alerts() -> None:
    names = ResourceNames(project="my-proj-1")
    spec = resources.declaration()["subscriptions"]["alerts_subscription"]
    request = resources.subscription_request(names, "alerts_subscription", spec)
    assert request["dead_letter_policy"] == {
        "dead_letter_topic": "projects/my-proj-1/topics/alerts-undeliverable",
        "max_delivery_attempts": 10,
    }
    assert request["retry_policy"] == {"minimum_backoff": {"seconds": 10}, "maximum_backoff": {"seconds": 600}}
    declared = resources.declaration()["subscriptions"]["frames_subscription"]
    frames = resources.subscription_request(names, "frames_subscription", declared)
    assert "dead_letter_policy" not in frames and frames["ack_deadline_seconds"] == 60


def test_overrides_ids_and_suffix() -> None:
    names = ResourceNames(project="my-proj-1", dataset="fw", frames_bucket="my-proj-1-frames")
    assert names.table_id("alerts_table") == "my-proj-1.fw.alerts"
    assert names.topic_path() == "projects/my-proj-1/topics/frames"
    assert names.subscription_path("alerts_subscription") == "projects/my-proj-1/subscriptions/alerts-sub"
    unique = names.with_suffix("ab12")
    assert unique.dataset == "fw_ab12" and unique.frames_topic == "frames-ab12"
    assert unique.frames_subscription == "frames-sub-ab12" and unique.frames_bucket == "my-proj-1-frames-ab12"
    assert unique.predictions_table == "predictions"
    with pytest.raises(ValueError):
        names.with_suffix("Bad_Suffix")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project", "X"),
        ("frames_topic", "goog-x"),
        ("dataset", "has-dash"),
        ("frames_bucket", "UPPER"),
        ("alerts_table", "sp ace"),
    ],
)
def test_invalid_names_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        ResourceNames(**{field: value})


@pytest.mark.stack
def test_apply_is_idempotent_and_destroy_removes_everything(local_stack) -> None:
    names = ResourceNames(project=local_stack.project).with_suffix(uuid.uuid4().hex[:8])
    first = resources.apply(names)
    try:
        assert {a.outcome for a in first} == {"created"}
        assert len(first) == 5 + 7 + 1 + 11 + 4  # topics, subscriptions, dataset, tables, buckets
        second = resources.apply(names)
        assert [(a.kind, a.name) for a in second] == [(a.kind, a.name) for a in first]
        assert {a.outcome for a in second} == {"exists"}

        publisher, subscriber = gcp.publisher_client(), gcp.subscriber_client()
        topics = {t.name for t in publisher.list_topics(project=f"projects/{names.project}")}
        assert {names.topic_path(k) for k in names.topic_fields()} <= topics
        sub = subscriber.get_subscription(subscription=names.subscription_path())
        assert sub.topic == names.topic_path("frames_topic")
        alerts = subscriber.get_subscription(subscription=names.subscription_path("alerts_subscription"))
        assert alerts.dead_letter_policy.dead_letter_topic == names.topic_path("alerts_undeliverable_topic")
        assert alerts.dead_letter_policy.max_delivery_attempts == 10
        bq = gcp.bigquery_client()
        table = bq.get_table(names.table_id("explanations_table"))
        assert [f.name for f in table.schema] == [f["name"] for f in resources.schema_for_table("explanations")]
        assert bq.get_table(names.table_id("predictions_table")).time_partitioning.field == "processed_at"
        assert gcp.storage_client().get_bucket(names.frames_bucket).name == names.frames_bucket
        subscriber.close()
    finally:
        gone = resources.destroy(names)
    assert {a.outcome for a in gone} == {"deleted"}
    assert {a.outcome for a in resources.destroy(names)} == {"absent"}
    topics = {t.name for t in gcp.publisher_client().list_topics(project=f"projects/{names.project}")}
    assert names.topic_path() not in topics


@pytest.mark.stack
def test_apply_adds_missing_nullable_columns_and_reports_drift(gcp_resources: ResourceNames) -> None:
    from google.cloud import bigquery

    bq = gcp.bigquery_client()
    declared = resources.schema_for_table("dead_letters")

    def recreate(table_id: str, without: str) -> None:
        bq.delete_table(table_id)
        fields = [bigquery.SchemaField.from_api_repr(f) for f in declared if f["name"] != without]
        bq.create_table(bigquery.Table(table_id, schema=fields))

    table_id = gcp_resources.table_id("dead_letters_table")
    recreate(table_id, "payload_sha256")  # NULLABLE: can be added
    actions = {a.name: a.outcome for a in resources.apply(gcp_resources)}
    assert actions[table_id] == "exists, added column(s) ['payload_sha256']"
    assert "payload_sha256" in {f.name for f in bq.get_table(table_id).schema}

    recreate(table_id, "mode")  # REQUIRED: cannot be added to an existing table
    actions = {a.name: a.outcome for a in resources.apply(gcp_resources)}
    assert "SCHEMA DRIFT" in actions[table_id] and "mode" in actions[table_id]

    # The CLI fails on drift, so scripts and CI notice.
    from firewatch.cli import main

    suffix = gcp_resources.dataset.split("_", 1)[1]
    assert main(["infra", "apply", "--project", gcp_resources.project, "--suffix", suffix]) == 2

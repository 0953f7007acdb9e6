"""Row checks and WriteToBigQueryRows / insert_rows against the BigQuery emulator."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from firewatch.beam.sinks import WriteToBigQueryRows
from firewatch.cloud import clients as gcp
from firewatch.cloud.bigquery_rows import (
    BigQueryWriteError,
    RowWriter,
    chunk_rows,
    insert_rows,
    split_row_id,
)
from firewatch.cloud.row_checks import row_problems
from infra.resources import ResourceNames, schema_for_table

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def prediction(i: int, camera: str = "cam-1", fire: bool = False, when: dt.datetime = NOW) -> dict:
    return {
        "frame_key": f"{camera}/f{i}",
        "camera_id": camera,
        "frame_id": f"f{i}",
        "captured_at": (when - dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
        "processed_at": when.isoformat().replace("+00:00", "Z"),
        "fire_probability": 0.9 if fire else 0.1,
        "label": "fire" if fire else "no_fire",
        "threshold": 0.5,
        "model_version": "v1",
        "source_uri": None,
        "message_id": str(i),
        "publish_time": when.isoformat(),
        "latency_ms": 100.0 + i,
        "content_sha256": "ab" * 32,
        "image_width": 640,
        "image_height": 480,
        "mode": "streaming",
    }


def explanation(key: str) -> dict:
    return {
        "frame_key": key,
        "camera_id": "cam-1",
        "model_version": "v1",
        "fire_probability": 0.93,
        "method": "integrated_gradients+xrai",
        "ig_steps": 32,
        "baselines": ["black", "white"],
        "approximation_error": 0.01,
        "approximation_flagged": False,
        "top_regions": [
            {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6, "share": 0.7},
            {"x_min": 0.6, "y_min": 0.0, "x_max": 1.0, "y_max": 0.3, "share": 0.2},
        ],
        "overlay_uri": "gs://b/o.png",
        "compute_ms": 812.5,
        "created_at": "2024-05-01T12:00:01.250Z",
        "mode": "batch",
    }


# -- pure ------------------------------------------------------------------------------------------


def test_row_problems_accepts_valid_rows() -> None:
    assert row_problems(prediction(1), schema_for_table("predictions")) == []
    assert row_problems(explanation("k"), schema_for_table("explanations")) == []


def test_row_problems_finds_what_real_bigquery_rejects() -> None:
    schema = schema_for_table("explanations")
    bad = explanation("k")
    del bad["method"]
    bad["extra"] = 1
    bad["ig_steps"] = "many"
    bad["approximation_flagged"] = "no"
    bad["baselines"] = "black"
    bad["created_at"] = "yesterday"
    bad["top_regions"][1] = {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "share": 0.7}
    problems = "\n".join(row_problems(bad, schema))
    for expected in (
        "method: REQUIRED value missing",
        "extra: no such column",
        "ig_steps: expected an integer",
        "approximation_flagged: expected true/false",
        "baselines: REPEATED column needs a list",
        "created_at: expected an RFC 3339",
        "top_regions[1].y_max: REQUIRED value missing",
    ):
        assert expected in problems


def test_split_row_id_and_chunking() -> None:
    assert split_row_id({"a": 1, "_row_id": "x"}) == ({"a": 1}, "x")
    assert split_row_id({"a": 1}) == ({"a": 1}, None)
    rows = [{"v": "x" * 100} for _ in range(25)]
    assert [len(c) for c in chunk_rows(rows, 10)] == [10, 10, 5]
    assert all(len(c) <= 3 for c in chunk_rows(rows, 100, max_bytes=400))
    assert sum(len(c) for c in chunk_rows(rows, 100, max_bytes=400)) == 25


def test_transform_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="project.dataset.table"):
        WriteToBigQueryRows("just_a_table")
    with pytest.raises(ValueError, match="batch_size"):
        WriteToBigQueryRows("p.d.t", batch_size=0)


class _FlakyClient:
    """Stands in for bigquery.Client: first call fails transiently, then per-row errors/success."""

    def __init__(self, responses: list) -> None:
        self.responses = responses
        self.calls: list[tuple[list, list | None]] = []

    def insert_rows_json(self, table, rows, row_ids=None, retry=None, timeout=None):
        self.calls.append((list(rows), row_ids))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def test_writer_retries_transient_errors_then_succeeds() -> None:
    from google.api_core import exceptions as gexc

    client = _FlakyClient(
        [
            gexc.ServiceUnavailable("down"),
            [{"index": 1, "errors": [{"reason": "backendError", "message": "try again"}]}],
            [],
        ]
    )
    writer = RowWriter("p.d.t", client=client, validate=False, initial_backoff=0.01)
    assert writer.write([{"a": 1, "_row_id": "r1"}, {"a": 2, "_row_id": "r2"}]) == 2
    assert client.calls[-1] == ([{"a": 2}], ["r2"])  # only the failed row is resent, with its insertId


def test_writer_raises_on_invalid_rows_and_on_persistent_failure() -> None:
    from google.api_core import exceptions as gexc

    client = _FlakyClient([[{"index": 0, "errors": [{"reason": "invalid", "message": "no such field: z"}]}]])
    with pytest.raises(BigQueryWriteError, match="no such field: z"):
        RowWriter("p.d.t", client=client, validate=False).write([{"z": 1}])
    client = _FlakyClient([gexc.InternalServerError("boom")] * 3)
    with pytest.raises(BigQueryWriteError, match="after 3 attempts"):
        RowWriter("p.d.t", client=client, validate=False, max_attempts=3, initial_backoff=0.01).write([{"a": 1}])


# -- emulator --------------------------------------------------------------------------------------


@pytest.mark.stack
def test_pipeline_writes_rows_that_query_back(gcp_resources: ResourceNames) -> None:
    from google.cloud import bigquery

    predictions = [prediction(i, camera=f"cam-{i % 2}", fire=i % 3 == 0) for i in range(12)]
    predictions[0]["_row_id"] = "row-0"
    options = PipelineOptions(["--runner=DirectRunner", "--direct_num_workers=1"])
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | "P" >> beam.Create(predictions)
            | "WP" >> WriteToBigQueryRows(gcp_resources.table_id("predictions_table"), batch_size=5)
        )
        _ = (
            p
            | "E" >> beam.Create([explanation("cam-0/f0")])
            | "WE" >> WriteToBigQueryRows(gcp_resources.table_id("explanations_table"))
        )

    client = gcp.bigquery_client()
    table = gcp_resources.table_id("predictions_table")
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("since", "TIMESTAMP", NOW - dt.timedelta(minutes=5)),
            bigquery.ScalarQueryParameter("label", "STRING", "fire"),
        ]
    )
    rows = list(
        client.query(
            f"SELECT camera_id, COUNT(*) AS n, COUNTIF(label = @label) AS fire, MAX(processed_at) AS last "
            f"FROM `{table}` WHERE processed_at >= @since GROUP BY camera_id ORDER BY camera_id",
            job_config=config,
        ).result()
    )
    assert [(r["camera_id"], r["n"], r["fire"]) for r in rows] == [("cam-0", 6, 2), ("cam-1", 6, 2)]
    assert rows[0]["last"] == NOW
    captured = list(client.query(f"SELECT captured_at FROM `{table}` WHERE frame_key = 'cam-0/f0'").result())
    assert captured[0]["captured_at"] == NOW - dt.timedelta(seconds=1)

    got = list(
        client.query(
            "SELECT frame_key, baselines, top_regions, created_at, r.share AS share "
            f"FROM `{gcp_resources.table_id('explanations_table')}`, UNNEST(top_regions) AS r "
            "WHERE 'white' IN UNNEST(baselines) ORDER BY share DESC"
        ).result()
    )
    assert [r["share"] for r in got] == [0.7, 0.2]
    assert got[0]["baselines"] == ["black", "white"]
    assert got[0]["top_regions"][0] == {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6, "share": 0.7}
    assert got[0]["created_at"] == dt.datetime(2024, 5, 1, 12, 0, 1, 250000, tzinfo=dt.UTC)


@pytest.mark.stack
def test_insert_rows_refuses_invalid_rows_and_missing_tables(gcp_resources: ResourceNames) -> None:
    table = gcp_resources.table_id("dead_letters_table")
    good = {"received_at": "2024-05-01T12:00:00Z", "stage": "decode", "reason": "not an image", "mode": "batch"}
    assert insert_rows(table, [good, dict(good, payload_size=12)]) == 2
    with pytest.raises(BigQueryWriteError, match="stage: REQUIRED value missing"):
        insert_rows(table, [good, {k: v for k, v in good.items() if k != "stage"}])
    with pytest.raises(BigQueryWriteError, match="firewatch infra apply"):
        insert_rows(f"{gcp_resources.project}.{gcp_resources.dataset}.missing", [good])
    count = list(gcp.bigquery_client().query(f"SELECT COUNT(*) AS n FROM `{table}`").result())[0]["n"]
    assert count == 2  # the refused batch wrote nothing


@pytest.mark.stack
def test_rows_a_table_cannot_take_become_dead_letters_and_nothing_stalls(gcp_resources: ResourceNames) -> None:
    """The streaming sink (retry_forever): a row the table refuses and every row for a missing table
    come out as dead letters with the reason (stage 'sink'); the good rows are written."""
    from apache_beam.testing.util import assert_that, equal_to

    good = [prediction(i) for i in range(3)]
    bad = dict(prediction(9), fire_probability="very high")  # not a number: refused by the schema
    missing = f"{gcp_resources.project}.{gcp_resources.dataset}.no_such_table"
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner", "--direct_num_workers=1"])) as p:
        rejected = (
            p
            | "Rows" >> beam.Create([*good, bad])
            | "Write" >> WriteToBigQueryRows(gcp_resources.table_id("predictions_table"), retry_forever=True)
        )
        lost = p | "More" >> beam.Create(good[:2]) | "WriteMissing" >> WriteToBigQueryRows(missing, retry_forever=True)
        summary = lambda d: (d["stage"], d["error_type"], d["camera_id"], "predictions" in d["reason"])  # noqa: E731
        assert_that(rejected | "S1" >> beam.Map(summary), equal_to([("sink", "schema_mismatch", "cam-1", True)]), "R")
        missing_summary = lost | "S2" >> beam.Map(lambda d: (d["error_type"], "not found" in d["reason"]))
        assert_that(missing_summary, equal_to([("table_not_found", True)] * 2), label="M")
    written = list(
        gcp.bigquery_client().query(f"SELECT frame_key FROM `{gcp_resources.table_id('predictions_table')}`").result()
    )
    assert sorted(r["frame_key"] for r in written) == sorted(g["frame_key"] for g in good)

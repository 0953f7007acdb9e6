"""The BigQuery sink's batching across bundles and its last-stop rule, with a fake writer in
place of the client (issue 21, items 5 and 6): every row is written exactly once, in batches of
at most `batch_size`, and a dead letter the dead-letters table refuses fails the pipeline."""

from __future__ import annotations

import threading

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from firewatch.beam import sinks
from firewatch.cloud.bigquery_rows import ROW_ID_KEY, BigQueryWriteError, Rejected

WRITES: list[list[dict]] = []
TABLE_WRITES: list[tuple[str, list[dict]]] = []
_LOCK = threading.Lock()


class FakeWriter:
    """Records each write; refuses rows whose frame_key starts with 'bad'."""

    def __init__(self, table: str) -> None:
        self.table = table

    def write_or_reject(self, rows, batch_size=500):
        with _LOCK:
            WRITES.append([dict(r) for r in rows])
            TABLE_WRITES.append((self.table, [dict(r) for r in rows]))
        refused = [r for r in rows if str(r.get("frame_key", "")).startswith("bad")]
        return [Rejected(dict(r), "invalid: test", "bigquery_rejected") for r in refused]


@pytest.fixture(autouse=True)
def fake_writer(monkeypatch):
    WRITES.clear()
    TABLE_WRITES.clear()
    monkeypatch.setattr(sinks, "shared_writer", lambda table, validate, attempts: FakeWriter(table))


def rows(n: int, prefix: str = "cam/") -> list[dict]:
    return [{"frame_key": f"{prefix}{i}", "camera_id": "cam"} for i in range(n)]


def test_rows_are_batched_across_bundles_by_sharded_key_and_each_written_once():
    write = sinks.WriteToBigQueryRows(
        "p.d.predictions", batch_size=7, row_id=lambda row: "id-" + row["frame_key"], buffer_seconds=2.0
    )
    with beam.Pipeline("BundleBasedDirectRunner") as pipeline:
        dead = pipeline | beam.Create(rows(100), reshuffle=True) | write
        assert_that(dead, equal_to([]))
    written = [row for batch in WRITES for row in batch]
    assert sorted(r["frame_key"] for r in written) == sorted(f"cam/{i}" for i in range(100))
    assert all(r[ROW_ID_KEY] == "id-" + r["frame_key"] for r in written)  # insertIds survive the grouping
    assert max(len(batch) for batch in WRITES) <= 7
    for batch in WRITES:  # one shard per batch: the key is the row id's shard
        assert len({sinks.write_shard(r) for r in batch}) == 1


def test_a_row_the_table_refuses_reaches_the_dead_letters_table_from_the_batched_path():
    """A batch flushed by GroupIntoBatches' end-of-window timer carries the window's last timestamp:
    its dead letters are still written (the dead-letters table is written per bundle, no grouping)."""
    to = sinks.Destinations(
        tables={"explanations": "p.d.explanations", "dead_letters": "p.d.dead_letters"}, write_buffer_seconds=1.0
    )
    with beam.Pipeline("BundleBasedDirectRunner") as pipeline:
        dead = pipeline | "NoDead" >> beam.Create([])
        explained = [{**row, "model_version": "v1"} for row in rows(3) + rows(1, "bad/")]
        rows_in = pipeline | "Rows" >> beam.Create(explained)
        _ = {"explanations": rows_in, "dead_letters": dead} | sinks.WriteResults(to)
    by_table = {}
    for table, batch in TABLE_WRITES:
        by_table.setdefault(table, []).extend(batch)
    assert sorted(r["frame_key"] for r in by_table["p.d.explanations"]) == ["bad/0", "cam/0", "cam/1", "cam/2"]
    [letter] = by_table["p.d.dead_letters"]
    assert (letter["stage"], letter["error_type"]) == ("sink", "bigquery_rejected")
    assert letter["reason"].startswith("p.d.explanations: invalid")


@pytest.mark.parametrize("buffer_seconds", [0.0, 1.0])
def test_a_dead_letter_the_dead_letters_table_refuses_fails_the_bundle(buffer_seconds):
    """Before: logged and counted, while the message was already acknowledged: a lost frame."""
    write = sinks.WriteToBigQueryRows("p.d.dead_letters", fail_on_reject=True, buffer_seconds=buffer_seconds)
    with pytest.raises(Exception, match="could not be written to p.d.dead_letters") as failure:
        with beam.Pipeline("BundleBasedDirectRunner") as pipeline:
            _ = pipeline | beam.Create(rows(1, "bad/")) | write
    assert "BigQueryWriteError" in repr(failure.value) or isinstance(failure.value, BigQueryWriteError)


def test_write_results_fails_on_the_dead_letters_table_only():
    to = sinks.Destinations(tables={"dead_letters": "p.d.dead_letters"}, write_buffer_seconds=0.5)
    with pytest.raises(Exception, match="could not be written to p.d.dead_letters"):
        with beam.Pipeline("BundleBasedDirectRunner") as pipeline:
            dead = pipeline | "Dead" >> beam.Create(
                [{"frame_key": "bad/1", "stage": "decode", "reason": "x", "mode": "batch"}]
            )
            _ = {"dead_letters": dead} | sinks.WriteResults(to)

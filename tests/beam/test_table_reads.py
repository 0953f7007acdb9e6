"""What the running job asks BigQuery for when it re-reads its small tables (issue 21, item 11):
the masks with tables.get + tabledata.list (free), never a query job (billed at least 10 MB, in
every worker process every 30 s). A fake client records the calls."""

from __future__ import annotations

from datetime import UTC, datetime

from google.cloud.bigquery import SchemaField

from firewatch.beam.baselines import BaselineSource
from firewatch.beam.masks import MaskCache, MaskSource, read_mask_rows

SCHEMA = [
    SchemaField("camera_id", "STRING"),
    SchemaField("mask_version", "INTEGER"),
    SchemaField(
        "rectangles",
        "RECORD",
        mode="REPEATED",
        fields=[SchemaField(n, "FLOAT") for n in ("x_min", "y_min", "x_max", "y_max")],
    ),
    SchemaField("created_at", "TIMESTAMP"),
    SchemaField("created_by", "STRING"),
]
ROW = {
    "camera_id": "cam-1",
    "mask_version": 2,
    "rectangles": [{"x_min": 0.0, "y_min": 0.0, "x_max": 0.5, "y_max": 0.25}],
    "created_at": datetime(2026, 12, 1, tzinfo=UTC),
}


class FakeBigQuery:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def get_table(self, table, timeout=None):
        self.calls.append(("tables.get", table))
        return type("Table", (), {"schema": SCHEMA, "reference": table})()

    def list_rows(self, table, selected_fields=None, timeout=None):
        self.calls.append(("tabledata.list", tuple(f.name for f in selected_fields or ())))
        return [dict(ROW)]

    def query(self, sql, timeout=None):
        self.calls.append(("query", sql))
        raise AssertionError("a query job was started")


def test_masks_are_read_with_tabledata_list_not_a_query(monkeypatch):
    fake = FakeBigQuery()
    monkeypatch.setattr("firewatch.cloud.clients.bigquery_client", lambda project=None: fake)
    cache = MaskCache(MaskSource(table="p.firewatch.masks"))
    for _ in range(3):  # three refreshes
        assert cache.refresh_now()
    assert cache.current()["cam-1"].version == 2
    assert (
        fake.calls
        == [
            ("tables.get", "p.firewatch.masks"),
            ("tabledata.list", ("camera_id", "mask_version", "rectangles", "created_at")),
        ]
        * 3
    )
    fake.calls.clear()
    assert read_mask_rows("p.firewatch.masks") == [ROW]
    assert [kind for kind, _ in fake.calls] == ["tables.get", "tabledata.list"]


def test_the_baselines_keep_their_query_every_ten_minutes():
    """Their SQL picks the latest computation: a query, but 60 times less often than the masks."""
    source = BaselineSource(table="p.firewatch.region_baselines")
    assert source.sql is not None and "MAX(computed_at)" in source.sql
    assert source.refresh_seconds == 600.0

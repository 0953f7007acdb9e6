"""`firewatch query`: pure SQL/parameter builders, and the canned queries on the emulator."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

from firewatch.cli import dispatch as cli
from firewatch.clients.query import (
    QueryConfig,
    QueryParam,
    build_query,
    fire_rate_query,
    format_table,
    latency_query,
    latest_alerts_query,
    parse_duration,
    parse_param,
)
from firewatch.cloud.bigquery_rows import insert_rows
from infra.resources import ResourceNames

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1w", 604800), ("1h30m", 5400), ("0.5h", 1800)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "-1h", "0s", "1h junk"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_param_types() -> None:
    assert parse_param("cam=STRING:c-1") == QueryParam("cam", "STRING", "c-1")
    assert parse_param("cam=c-1") == QueryParam("cam", "STRING", "c-1")
    assert parse_param("url=http://x") == QueryParam("url", "STRING", "http://x")
    assert parse_param("n=INT64:5") == QueryParam("n", "INT64", 5)
    assert parse_param("@n=integer:5") == QueryParam("n", "INT64", 5)
    assert parse_param("p=FLOAT64:0.5").value == 0.5
    assert parse_param("ok=BOOL:true").value is True
    assert parse_param("x=NUMERIC:1.25").value == decimal.Decimal("1.25")
    assert parse_param("t=TIMESTAMP:2024-05-01T12:00:00Z").value == NOW
    assert parse_param("d=DATE:2024-05-01").value == dt.date(2024, 5, 1)
    assert parse_param("cams=ARRAY<STRING>:a,b") == QueryParam("cams", "STRING", ["a", "b"], array=True)


@pytest.mark.parametrize("text", ["noequals", "1bad=STRING:x", "n=INT64:five", "b=BOOL:maybe", "t=TIMESTAMP:x"])
def test_parse_param_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="--param"):
        parse_param(text)


def test_builders_parameterise_the_window_and_camera() -> None:
    spec = fire_rate_query("p.d.predictions", NOW, camera="cam-1", limit=7)
    assert "FROM `p.d.predictions`" in spec.sql and "GROUP BY camera_id" in spec.sql and "LIMIT 7" in spec.sql
    assert "camera_id = @camera" in spec.sql
    assert spec.params == [QueryParam("since", "TIMESTAMP", NOW), QueryParam("camera", "STRING", "cam-1")]
    assert "@camera" not in latency_query("p.d.predictions", NOW).sql
    alerts = latest_alerts_query("p.d.alerts", NOW)
    assert "ORDER BY event_time DESC" in alerts.sql and "event_time >= @since" in alerts.sql
    assert "peak_box" in alerts.sql  # where the peak frame fired (null: whole-frame scoring)


def test_build_query_uses_names_and_now() -> None:
    config = QueryConfig(kind="latency", since="2h", camera="c", limit=3)
    spec = build_query(config, "proj-x", "fw", now=NOW)
    assert "`proj-x.fw.predictions`" in spec.sql
    assert spec.params[0].value == NOW - dt.timedelta(hours=2)
    assert "`proj-x.fw.alerts`" in build_query(QueryConfig(kind="latest-alerts"), "proj-x", "fw", now=NOW).sql
    raw = build_query(QueryConfig(kind="sql", sql="SELECT @a", param=["a=INT64:1"]), "proj-x", "fw")
    assert raw.sql == "SELECT @a" and raw.params == [QueryParam("a", "INT64", 1)]


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        QueryConfig(kind="fire-rate", since="soon")
    with pytest.raises(ValueError):
        QueryConfig(kind="fire-rate", limit=0)
    with pytest.raises(ValueError):
        QueryConfig(kind="sql", sql="SELECT 1", param=["bad"])


def test_format_table() -> None:
    text = format_table([{"camera_id": "cam-1", "rate": 0.123456, "at": NOW, "tags": ["a"]}, {"camera_id": "c2"}])
    lines = text.splitlines()
    assert lines[0].split() == ["camera_id", "rate", "at", "tags"]
    assert "0.1235" in lines[2] and "2024-05-01T12:00:00Z" in lines[2] and '["a"]' in lines[2]
    assert format_table([]) == "(no rows)"


def _seed(names: ResourceNames) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(10):
        camera = "cam-a" if i < 4 else "cam-b"
        when = now - dt.timedelta(minutes=5) if i != 9 else now - dt.timedelta(hours=5)
        rows.append(
            {
                "frame_key": f"{camera}/{i}",
                "camera_id": camera,
                "processed_at": when.isoformat(),
                "fire_probability": 0.9 if i in (0, 1, 4) else 0.1,
                "label": "fire" if i in (0, 1, 4) else "no_fire",
                "threshold": 0.5,
                "model_version": "v1",
                "content_sha256": "x",
                "mode": "streaming",
                "latency_ms": float(10 * (i + 1)),
            }
        )
    insert_rows(names.table_id("predictions_table"), rows)
    insert_rows(
        names.table_id("alerts_table"),
        [
            {
                "alert_id": "a1",
                "camera_id": "cam-a",
                "event": "open",
                "event_time": now.isoformat(),
                "first_frame_at": now.isoformat(),
                "last_frame_at": now.isoformat(),
                "fire_frames": 2,
                "peak_probability": 0.9,
                "mean_probability": 0.85,
                "frame_uris": ["cam-a/0", "cam-a/1"],
                "model_version": "v1",
                "peak_box": {"x_min": 0.25, "y_min": 0.5, "x_max": 0.5, "y_max": 0.75},
            }
        ],
    )


@pytest.mark.stack
def test_canned_queries_on_the_emulator(gcp_resources: ResourceNames, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(gcp_resources)
    base = ["--dataset", gcp_resources.dataset, "--format", "json"]

    assert cli.main(["query", "fire-rate", "--since", "1h", *base]) == 0
    rates = json.loads(capsys.readouterr().out)
    assert [(r["camera_id"], r["frames"], r["fire_frames"]) for r in rates] == [("cam-a", 4, 2), ("cam-b", 5, 1)]
    assert rates[0]["fire_rate"] == pytest.approx(0.5)

    assert cli.main(["query", "latency", "--since", "1h", "--camera", "cam-a", *base]) == 0
    latency = json.loads(capsys.readouterr().out)
    assert len(latency) == 1 and latency[0]["max_ms"] == 40.0 and latency[0]["mean_ms"] == pytest.approx(25.0)

    assert cli.main(["query", "latest-alerts", *base]) == 0
    alerts = json.loads(capsys.readouterr().out)
    assert [(a["alert_id"], a["event"], a["fire_frames"]) for a in alerts] == [("a1", "open", 2)]
    assert alerts[0]["peak_box"] == {"x_min": 0.25, "y_min": 0.5, "x_max": 0.5, "y_max": 0.75}

    assert (
        cli.main(
            [
                "query",
                "sql",
                "SELECT camera_id, COUNT(*) AS n FROM predictions WHERE camera_id = @c "
                "AND fire_probability > @p GROUP BY camera_id",
                "--param",
                "c=STRING:cam-b",
                "--param",
                "p=FLOAT64:0.5",
                *base,
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"camera_id": "cam-b", "n": 1}]

    assert cli.main(["query", "fire-rate", "--since", "1h", "--dataset", gcp_resources.dataset]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["camera_id", "frames", "fire_frames"]


@pytest.mark.stack
def test_query_errors_are_user_errors(gcp_resources: ResourceNames, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["query", "sql", "SELECT * FROM no_such_table", "--dataset", gcp_resources.dataset]) == 2
    assert "infra apply" in capsys.readouterr().err
    assert cli.main(["query", "fire-rate", "--since", "later"]) == 2
    assert "bad duration" in capsys.readouterr().err

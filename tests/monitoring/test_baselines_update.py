"""`firewatch baselines update` on the local stack: quiet maxima per camera, model, hour and region,
frames inside alerts (but not false alarms) and the last settle minutes left out; the pipelines'
cache reads the latest."""

from __future__ import annotations

import datetime as dt


def _row(camera: str, when: dt.datetime, scores: list[tuple[str, float]], version: str = "v1") -> dict:
    return {
        "frame_key": f"{camera}/{when.isoformat()}", "camera_id": camera, "captured_at": when.isoformat(),
        "processed_at": when.isoformat(), "fire_probability": max(p for _, p in scores), "label": "no_fire",
        "threshold": 0.5, "model_version": version, "content_sha256": "00", "mode": "streaming",
        "region_scores": [{"region": k, "probability": p} for k, p in scores],
    }  # fmt: skip


def test_update_learns_quiet_maxima_and_the_pipeline_reads_the_latest(gcp_resources, capsys):
    from firewatch.beam.baselines import BaselineCache, BaselineSource
    from firewatch.cli.dispatch import main
    from firewatch.cloud.bigquery_rows import insert_rows

    names = gcp_resources
    now = dt.datetime.now(dt.UTC).replace(minute=30, second=0, microsecond=0)
    day = dt.timedelta(days=1)
    evening = (now - 2 * day).replace(hour=17)
    rows = [
        _row("cam-1", evening, [("2:0.250,0.250", 0.62), ("2:0.500,0.250", 0.3)]),  # the lamp, two days ago
        _row("cam-1", evening - day, [("2:0.250,0.250", 0.71)]),  # the lamp, three days ago: the maximum
        _row("cam-1", evening + dt.timedelta(minutes=5), [("2:0.250,0.250", 0.99)]),  # inside an alert: left out
        _row("cam-1", now - 10 * day, [("2:0.250,0.250", 0.95)]),  # older than the window: left out
        _row("cam-1", now - dt.timedelta(minutes=10), [("2:0.250,0.250", 0.98)]),  # not settled yet: left out
        _row("cam-1", evening, [("2:0.250,0.250", 0.4)], version="v2"),  # another model: its own baseline
        _row("cam-2", evening.replace(hour=6), [("1:0.000,0.000", 0.55)]),
        # cam-2's sunrise glare opened an alert an operator judged a false alarm: the baseline learns it
        _row("cam-2", evening.replace(hour=7), [("2:0.750,0.500", 0.93)]),
        # cam-2's fire, first judged a false alarm, then confirmed (the latest verdict wins): left out
        _row("cam-2", evening.replace(hour=9), [("2:0.750,0.500", 0.97)]),
    ]
    insert_rows(names.table_id("predictions_table"), rows)
    alert = {
        "alert_id": "a1", "camera_id": "cam-1", "event": "close", "event_time": evening.isoformat(),
        "first_frame_at": (evening + dt.timedelta(minutes=1)).isoformat(),
        "last_frame_at": (evening + dt.timedelta(minutes=20)).isoformat(), "fire_frames": 9,
        "peak_probability": 0.99, "mean_probability": 0.9, "model_version": "v1",
    }  # fmt: skip
    glare = alert | {
        "alert_id": "g1", "camera_id": "cam-2",
        "first_frame_at": (evening.replace(hour=7) - dt.timedelta(minutes=1)).isoformat(),
        "last_frame_at": (evening.replace(hour=7) + dt.timedelta(minutes=3)).isoformat(),
    }  # fmt: skip
    fire = glare | {
        "alert_id": "f1", "first_frame_at": (evening.replace(hour=9) - dt.timedelta(minutes=1)).isoformat(),
        "last_frame_at": (evening.replace(hour=9) + dt.timedelta(minutes=3)).isoformat(),
    }  # fmt: skip
    insert_rows(names.table_id("alerts_table"), [alert, glare, fire])

    def verdict(alert_id: str, verdict: str, minutes: int) -> dict:
        return {
            "feedback_id": f"{alert_id}-{verdict}", "subject_id": alert_id, "alert_id": alert_id, "camera_id": "cam-2",
            "verdict": verdict, "operator": "op@example.com", "model_version": "v1",
            "judged_at": (evening + dt.timedelta(minutes=minutes)).isoformat(),
        }  # fmt: skip

    insert_rows(
        names.table_id("feedback_table"),
        [verdict("g1", "false_alarm", 30), verdict("f1", "false_alarm", 30), verdict("f1", "fire_confirmed", 40)],
    )

    argv = ["baselines", "update", "--project", names.project, "--dataset", names.dataset]
    assert main(argv) == 0
    assert "baselines: 5 region-hours of 2 camera(s)" in capsys.readouterr().out

    cache = BaselineCache(BaselineSource(table=names.table_id("baselines_table")))
    assert cache.refresh_now()
    assert cache.current() == {
        "cam-1": {
            ("v1", 17, "2:0.250,0.250"): 0.71,
            ("v1", 17, "2:0.500,0.250"): 0.3,
            ("v2", 17, "2:0.250,0.250"): 0.4,
        },
        "cam-2": {("v1", 6, "1:0.000,0.000"): 0.55, ("v1", 7, "2:0.750,0.500"): 0.93},
    }

    # A later computation replaces the whole earlier one.
    insert_rows(names.table_id("predictions_table"), [_row("cam-3", evening, [("2:0.000,0.000", 0.8)])])
    assert main(argv) == 0
    assert cache.refresh_now() and set(cache.current()) == {"cam-1", "cam-2", "cam-3"}

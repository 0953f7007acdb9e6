"""`firewatch alerts` lines: the alert's fields, and where its peak frame fired when known."""

from __future__ import annotations

from firewatch.clients.alerts import format_alert

EVENT = {
    "alert_id": "cam-9-1",
    "camera_id": "cam-9",
    "event": "open",
    "fire_frames": 3,
    "peak_probability": 0.97,
    "mean_probability": 0.9,
    "first_frame_at": "2026-11-22T10:00:00Z",
    "last_frame_at": "2026-11-22T10:00:02Z",
}


def test_an_alert_with_a_peak_box_shows_where_it_fired() -> None:
    box = {"x_min": 0.25, "y_min": 0.5, "x_max": 0.375, "y_max": 0.75}
    line = format_alert({**EVENT, "peak_box": box, "explanation_uri": "gs://b/x.png"})
    assert line.startswith("[OPEN  ] camera=cam-9 alert=cam-9-1 fire_frames=3 peak=0.970")
    assert " box=0.25,0.50-0.38,0.75 explanation=gs://b/x.png" in line


def test_an_alert_without_a_box_reads_as_before() -> None:
    assert "box=" not in format_alert({**EVENT, "peak_box": None}) and "box=" not in format_alert(EVENT)


def test_other_events_on_the_topic_have_their_own_lines() -> None:
    health = {"camera_id": "cam-9", "event": "frozen", "state": "frozen", "previous_state": "healthy", "reason": "same"}
    assert format_alert(health) == "[HEALTH] camera=cam-9 state=frozen (was healthy): same"
    drift = {"camera_id": "cam-9", "event": "drift", "metrics": ["brightness"], "psi": {"brightness": 0.4}}
    assert format_alert(drift) == "[DRIFT ] camera=cam-9 metrics=['brightness'] psi={'brightness': 0.4}"
    assert format_alert({"x": 1}).startswith("[?     ] {")

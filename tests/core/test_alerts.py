"""The alerts topic's events, typed: one model per kind, one line of text for every reader."""

from __future__ import annotations

import json

import pytest

from firewatch.core.alerts import AlertEvent, DriftEvent, HealthEvent, alert_message_parts, describe, parse_event
from tests.fixtures.schema_check import check_row, load_schema

ROW = {
    "alert_id": "cam-1-0123456789",
    "camera_id": "cam-1",
    "event": "open",
    "event_time": "2026-12-03T10:00:05Z",
    "first_frame_at": "2026-12-03T10:00:00Z",
    "last_frame_at": "2026-12-03T10:00:02Z",
    "fire_frames": 3,
    "peak_probability": 0.91,
    "mean_probability": 0.8,
    "frame_uris": ["gs://f/cam-1/a.jpg"],
    "peak_frame_key": "cam-1/a.jpg",
    "explanation_uri": None,
    "model_version": "v2",
    "peak_box": {"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, "y_max": 0.4},
}


def test_an_alert_row_round_trips_and_fits_the_alerts_table() -> None:
    event = AlertEvent.model_validate(ROW)
    assert event.row() == ROW
    check_row(event.row(), load_schema("alerts"), "alert row")
    data, attributes = alert_message_parts(ROW)
    assert json.loads(data) == ROW
    assert attributes == {"camera_id": "cam-1", "event": "open", "alert_id": "cam-1-0123456789"}


def test_a_malformed_alert_is_refused_by_its_type() -> None:
    with pytest.raises(ValueError, match="event"):
        AlertEvent.model_validate({**ROW, "event": "opened"})
    assert parse_event({**ROW, "fire_frames": "many"}) is None


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (json.dumps(ROW).encode(), AlertEvent),
        ({"camera_id": "cam-1", "event": "frozen", "state": "frozen", "brightness": 0.2}, HealthEvent),
        ({"camera_id": "cam-1", "event": "drift", "metrics": ["brightness"], "psi": {"brightness": 0.3}}, DriftEvent),
    ],
)
def test_each_kind_on_the_topic_is_read_as_its_type(body, kind) -> None:
    assert isinstance(parse_event(body), kind)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", {"event": "open"}, {"camera_id": 5, "event": "x"}, {}])
def test_what_is_no_event_is_none(body) -> None:
    assert parse_event(body) is None


def test_one_line_per_event() -> None:
    line = describe(AlertEvent.model_validate(ROW))
    assert line == (
        "[OPEN  ] camera=cam-1 alert=cam-1-0123456789 fire_frames=3 peak=0.910 mean=0.800 "
        "first=2026-12-03T10:00:00Z last=2026-12-03T10:00:02Z box=0.10,0.20-0.30,0.40"
    )
    health = parse_event({"camera_id": "cam-1", "event": "healthy", "state": "healthy", "previous_state": "night"})
    assert describe(health) == "[HEALTH] camera=cam-1 state=healthy (was night)"


def test_the_confirmation_emits_typed_rows() -> None:
    """The rows `firewatch.core.confirm` emits are exactly what the type writes (no hand-built dicts)."""
    from datetime import UTC, datetime, timedelta

    from firewatch.core.confirm import CameraState, ConfirmConfig, FrameObservation, flush, step

    config = ConfirmConfig(k=2, n=3, open_threshold=0.5, reorder_seconds=0)
    state, events = CameraState(), []
    t0 = datetime(2026, 12, 3, 10, tzinfo=UTC)
    for i in range(3):
        obs = FrameObservation(t0 + timedelta(seconds=i), f"k{i}", 0.9, 0.5, "v1")
        events += step(state, "cam-1", obs, config, now=t0 + timedelta(seconds=i))
    events += flush(state, "cam-1", config, now=t0 + timedelta(seconds=10))
    assert events and events[0]["event"] == "open"
    for event in events:
        assert AlertEvent.model_validate(event).row() == event
        check_row(event, load_schema("alerts"), "confirmation's alert row")

"""Verdicts: what is accepted, the row written, latest-wins with history and idempotency keys."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from firewatch.core.feedback import VerdictInput, feedback_row, history, latest_verdicts, training_file_name
from infra.resources import schema_for_table
from tests.fixtures.schema_check import check_row

KEY = "a" * 32
T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _verdict(**kw) -> VerdictInput:
    values = dict(feedback_id=KEY, verdict="false_alarm", category="lights", alert_id="cam-1-x", camera_id="cam-1",
                  frame_keys=("cam-1/f1", "cam-1/f2"), frame_uris=("gs://b/f1.png", ""),
                  model_version="v1")  # fmt: skip
    values.update(kw)
    return VerdictInput(**values)


def test_row_matches_the_declared_schema() -> None:
    row = feedback_row(_verdict(note="  headlights  "), "alice@example.com", T0)
    assert row["subject_id"] == "cam-1-x" and row["note"] == "headlights" and row["_row_id"] == KEY
    clean = {k: v for k, v in row.items() if k != "_row_id"}
    check_row(clean, schema_for_table("feedback"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"category": None}, "needs a category"),
        ({"verdict": "fire_confirmed"}, "only a false alarm has a category"),
        ({"verdict": "missed_fire", "category": None}, "exactly one frame"),
        ({"alert_id": None, "verdict": "fire_confirmed", "category": None}, "alert id missing"),
        ({"feedback_id": "short"}, "16-64"),
        ({"category": "aliens"}, "category"),
        ({"frame_keys": ()}, "frame_keys"),
        ({"frame_uris": ("gs://b/x.png",)}, "one to one"),
    ],
)
def test_invalid_verdicts_are_refused_with_the_reason(changes, reason) -> None:
    with pytest.raises(ValidationError, match=reason):
        _verdict(**changes)


def test_missed_fire_judges_one_frame() -> None:
    v = _verdict(verdict="missed_fire", category=None, alert_id=None, frame_keys=("cam-1/f9",), frame_uris=())
    assert v.subject_id == "frame:cam-1/f9"
    assert feedback_row(v, "local", T0)["frame_uris"] == [""]


def test_latest_wins_history_kept_and_a_repeated_key_counts_once() -> None:
    def row(key, verdict, minutes, subject="A"):
        return {"feedback_id": key, "subject_id": subject, "verdict": verdict,
                "judged_at": (T0 + dt.timedelta(minutes=minutes)).isoformat()}  # fmt: skip

    rows = [row("k2", "fire_confirmed", 5), row("k1", "false_alarm", 1), row("k1", "false_alarm", 1),
            row("k3", "missed_fire", 2, subject="frame:c/f")]  # fmt: skip
    latest = latest_verdicts(rows)
    assert latest["A"]["verdict"] == "fire_confirmed" and latest["frame:c/f"]["verdict"] == "missed_fire"
    assert [r["feedback_id"] for r in history([r for r in rows if r["subject_id"] == "A"])] == ["k1", "k2"]


def test_training_file_names_are_safe_and_unique() -> None:
    a, b = training_file_name("cam/../x:1", "PNG"), training_file_name("cam/__x_1", "png")
    assert "/" not in a and ".." not in a and a.endswith(".png") and a != b

"""Postprocessing to BigQuery rows matches the declared schemas."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firewatch.core.contract import FrameRequest
from firewatch.core.prediction import Prediction, ScoredFrame, frame_key, label_for
from firewatch.core.regions import FireBox
from firewatch.core.rows import MAX_INLINE_PAYLOAD, dead_letter_row, prediction_row

SCHEMAS = Path(__file__).resolve().parents[2] / "infra" / "schemas"


def schema_fields(name):
    return {f["name"]: f for f in json.loads((SCHEMAS / f"{name}.json").read_text())}


def test_prediction_row_has_exactly_the_schema_fields_and_required_values():
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    req = FrameRequest(camera_id="cam-1", frame_id="f9", publish_time=t0, message_id="42")
    prediction = Prediction.of(
        ScoredFrame(req, "ab" * 32, 640, 480),
        0.91,
        threshold=0.4,
        model_version="v1",
        mode="streaming",
        processed_at=t0 + timedelta(milliseconds=250),
    )
    assert prediction.captured_at == t0 and prediction.label == "fire"  # typed until the sink
    row = prediction_row(prediction)
    fields = schema_fields("predictions")
    assert set(row) == set(fields)
    assert all(row[n] is not None for n, f in fields.items() if f["mode"] == "REQUIRED")
    assert row["label"] == "fire" and row["latency_ms"] == 250.0
    assert row["captured_at"] == "2026-11-22T10:00:00.000000Z"  # falls back to publish time
    assert row["frame_key"] == "cam-1/f9"
    assert row["fire_boxes"] == [] and row["regions_scored"] == 1


def test_prediction_row_carries_the_fire_boxes_in_the_schemas_record_shape():
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    boxes = (FireBox((0.5, 0.25, 0.75, 0.5), 0.93, 2), FireBox((0.0, 0.0, 0.5, 0.5), 0.71, 1))
    prediction = Prediction.of(
        ScoredFrame(FrameRequest(camera_id="cam-1", frame_id="f1"), "ab" * 32, 1920, 1080),
        0.93,
        threshold=0.5,
        model_version="v1",
        mode="batch",
        processed_at=t0,
        boxes=boxes,
        regions_scored=66,
        peak_box=boxes[0].box,
    )
    row = prediction_row(prediction)
    record_fields = {f["name"] for f in schema_fields("predictions")["fire_boxes"]["fields"]}
    assert all(set(box) == record_fields for box in row["fire_boxes"])
    assert row["fire_boxes"][0] == {"x_min": 0.5, "y_min": 0.25, "x_max": 0.75, "y_max": 0.5, "probability": 0.93}
    assert row["regions_scored"] == 66


def test_threshold_rule_and_frame_key_without_frame_id():
    assert label_for(0.5, 0.5) == "fire" and label_for(0.4999, 0.5) == "no_fire"
    assert frame_key("c", None, "0123456789abcdef99") == "c/sha256:0123456789abcdef"


def test_dead_letter_row_keeps_payload_and_attributes():
    row = dead_letter_row(stage="decode", reason="corrupt", mode="batch", payload=b"xyz", attributes={"camera_id": "c"})
    assert set(row) == set(schema_fields("dead_letters"))
    assert base64.b64decode(row["payload_base64"]) == b"xyz" and row["camera_id"] == "c"
    big = dead_letter_row(stage="validate", reason="big", mode="batch", payload=b"x" * (MAX_INLINE_PAYLOAD + 1))
    assert big["payload_base64"] is None and big["payload_size"] == MAX_INLINE_PAYLOAD + 1


def test_dead_letter_message_keeps_the_original_for_replay():
    from firewatch.beam.dead_letters import dead_letter_message

    row = dead_letter_row(
        stage="decode",
        reason="corrupt PNG data",
        error_type="ImageError",
        mode="streaming",
        payload=b"\x89PNG broken",
        attributes={"camera_id": "c", "frame_id": "7"},
    )
    message = dead_letter_message(row)
    assert message.data == b"\x89PNG broken"
    assert message.attributes == {
        "camera_id": "c",
        "frame_id": "7",
        "firewatch_stage": "decode",
        "firewatch_reason": "corrupt PNG data",
        "firewatch_error_type": "ImageError",
    }
    no_payload = dead_letter_message(dead_letter_row(stage="explain", reason="x" * 3000, mode="batch"))
    assert json.loads(no_payload.data)["stage"] == "explain" and len(no_payload.attributes["firewatch_reason"]) == 1000


def test_request_dead_letter_keeps_the_message_as_sent():
    from firewatch.core.rows import dead_letter_for_request

    inline = FrameRequest(camera_id="c", image_bytes=b"\x89PNG broken")
    row = dead_letter_for_request(inline, stage="decode", reason="corrupt", error_type="ImageError", mode="streaming")
    assert base64.b64decode(row["payload_base64"]) == b"\x89PNG broken"
    # A frame sent by location keeps its location, even after the object was fetched.
    by_uri = FrameRequest(camera_id="c", uri="gs://b/x.png", image_bytes=b"fetched object bytes")
    row = dead_letter_for_request(by_uri, stage="decode", reason="corrupt", error_type="ImageError", mode="streaming")
    assert json.loads(base64.b64decode(row["payload_base64"])) == {"uri": "gs://b/x.png"}
    assert row["source_uri"] == "gs://b/x.png"


def test_row_ids_repeat_for_the_same_row_and_differ_between_messages():
    from firewatch.core.rows import dead_letter_row_id, prediction_row_id

    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    frame = ScoredFrame(FrameRequest(camera_id="c", frame_id="f", message_id="m1"), "ab" * 32, 8, 8)

    def row(frame: ScoredFrame, processed_at: datetime) -> dict:
        return prediction_row(
            Prediction.of(frame, 0.9, threshold=0.5, model_version="v", mode="streaming", processed_at=processed_at)
        )

    first = row(frame, t0)
    retried = row(frame, t0 + timedelta(seconds=5))
    resent = row(ScoredFrame(FrameRequest(camera_id="c", frame_id="f", message_id="m2"), "ab" * 32, 8, 8), t0)
    assert prediction_row_id(first) == prediction_row_id(retried) != prediction_row_id(resent)
    a = dead_letter_row(stage="decode", reason="x", mode="batch", payload=b"1", message_id="m1")
    b = dead_letter_row(stage="decode", reason="x", mode="batch", payload=b"1", message_id="m2")
    assert dead_letter_row_id(a) != dead_letter_row_id(b) and len(dead_letter_row_id(a)) == 32


def test_writer_sends_the_row_id_as_insert_id():
    from firewatch.beam.sinks import ROW_ID_KEY, _WriteRowsFn

    fn = _WriteRowsFn("p-test.ds.t", 10, True, row_id=lambda row: f"id-{row['n']}")
    fn.buffer = []
    list(fn.process({"n": 1}))
    assert fn.buffer == [{"n": 1, ROW_ID_KEY: "id-1"}]

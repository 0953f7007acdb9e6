"""The frame message contract: what is accepted, and the reason for what is not."""

import json
from datetime import UTC, datetime

import pytest

from firewatch.core.contract import ContractError, MessageLimits, parse_message

PNG_MAGIC = b"\x89PNG\r\n\x1a\nrest"
LIMITS = MessageLimits(allowed_buckets=("firewatch-frames",), max_message_bytes=1000)


def rule_of(data, attrs, limits=LIMITS):
    with pytest.raises(ContractError) as info:
        parse_message(data, attrs, limits)
    return info.value.rule


def test_inline_image_with_attributes():
    req = parse_message(
        PNG_MAGIC,
        {"camera_id": "cam-1", "captured_at": "2026-11-22T10:00:00.5+01:00", "frame_id": "f1"},
        LIMITS,
        message_id="m1",
    )
    assert req.image_bytes == PNG_MAGIC and req.uri is None
    assert req.captured_at == datetime(2026, 11, 22, 9, 0, 0, 500000, tzinfo=UTC)
    assert req.frame_id == "f1" and req.message_id == "m1"


def test_json_uri_body():
    req = parse_message(json.dumps({"uri": "gs://firewatch-frames/a/b.jpg"}).encode(), {"camera_id": "c"}, LIMITS)
    assert req.uri == "gs://firewatch-frames/a/b.jpg" and req.image_bytes is None


@pytest.mark.parametrize(
    ("data", "attrs", "rule"),
    [
        (PNG_MAGIC, {}, "missing_camera_id"),
        (PNG_MAGIC, {"camera_id": "bad camera!"}, "bad_camera_id"),
        (b"", {"camera_id": "c"}, "empty_data"),
        (b"x" * 1001, {"camera_id": "c"}, "message_too_large"),
        (PNG_MAGIC, {"camera_id": "c", "captured_at": "yesterday"}, "bad_captured_at"),
        (PNG_MAGIC, {"camera_id": "c", "captured_at": "2026-11-22T10:00:00"}, "bad_captured_at"),
        (b'{"uri": "gs://other-bucket/x.jpg"}', {"camera_id": "c"}, "forbidden_bucket"),
        (b'{"uri": "https://evil.example/x.jpg"}', {"camera_id": "c"}, "unsupported_uri_scheme"),
        (b'{"uri": "file:///etc/passwd"}', {"camera_id": "c"}, "unsupported_uri_scheme"),
        (b'{"uri": "gs://firewatch-frames"}', {"camera_id": "c"}, "bad_uri"),
        (b'{"url": "gs://firewatch-frames/x"}', {"camera_id": "c"}, "bad_json"),
        (b"{not json", {"camera_id": "c"}, "bad_json"),
    ],
)
def test_rejections_name_the_rule(data, attrs, rule):
    assert rule_of(data, attrs) == rule


def test_storage_notification_camera_from_metadata_or_folder():
    attrs = {"bucketId": "firewatch-frames", "objectId": "cam-7/0001.jpg", "eventType": "OBJECT_FINALIZE"}
    req = parse_message(b"", attrs, LIMITS)
    assert (req.camera_id, req.uri, req.frame_id) == (
        "cam-7",
        "gs://firewatch-frames/cam-7/0001.jpg",
        "cam-7/0001.jpg",
    )
    body = json.dumps({"metadata": {"camera_id": "north"}, "timeCreated": "2026-11-22T08:00:00Z"}).encode()
    req = parse_message(body, attrs, LIMITS)
    assert req.camera_id == "north" and req.captured_at == datetime(2026, 11, 22, 8, tzinfo=UTC)


def test_storage_notification_other_event_and_forbidden_bucket():
    assert (
        rule_of(b"", {"bucketId": "firewatch-frames", "objectId": "c/x", "eventType": "OBJECT_DELETE"})
        == "ignored_event"
    )
    assert rule_of(b"", {"bucketId": "elsewhere", "objectId": "c/x"}) == "forbidden_bucket"


@pytest.mark.parametrize(
    "uri",
    [
        "gs://firewatch-frames/../secrets/x.jpg",
        "gs://firewatch-frames/a/../../x.jpg",
        "gs://firewatch-frames/./a.jpg",
        "gs://firewatch-frames//a.jpg",
        "gs://firewatch-frames/a\\b.jpg",
        "gs://firewatch-frames/a\x7fb.jpg",
        "gs://firewatch-frames/" + "n" * 1025,
    ],
)
def test_object_names_the_console_refuses_are_refused_by_the_pipeline_too(uri: str) -> None:
    """One rule for object names: the pipeline used to pass `gs://bucket/../x` on to the fetch while the
    console refused it."""
    from firewatch.console.images import ImageRefused, parse_object_uri

    roomy = MessageLimits(allowed_buckets=LIMITS.allowed_buckets)
    assert rule_of(json.dumps({"uri": uri}).encode(), {"camera_id": "c"}, roomy) == "bad_uri"
    with pytest.raises(ImageRefused):
        parse_object_uri(uri, LIMITS.allowed_buckets)


def test_one_camera_id_rule() -> None:
    from firewatch.core.contract import check_camera_id

    for good in ("cam-1", "a", "site:north@2.x_y", "c" * 128):
        assert check_camera_id(good) == good
        assert parse_message(PNG_MAGIC, {"camera_id": good}, LIMITS).camera_id == good
    for bad in ("", "bad cam<>", "cam/1", "-x", "c" * 129):
        with pytest.raises(ContractError) as info:
            check_camera_id(bad)
        assert info.value.rule == "bad_camera_id"

"""firewatch.core.names: the one bucket-name rule and the one "a name or a projects/... path" helper."""

from __future__ import annotations

import pytest

from firewatch.core.contract import GS_URI_PATTERN
from firewatch.core.names import check_bucket_name, is_bucket_name, resource_path


@pytest.mark.parametrize(
    "name",
    ["abc", "firewatch-frames", "my_bucket.example.com", "a" * 63, ".".join(["b" * 63] * 3)],
)
def test_valid_bucket_names(name):
    assert is_bucket_name(name) and check_bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Upper", "-start", "end-", "a..b", "gs://frames", "a/b", "x" * 64 + ".com", "a b"],
)
def test_invalid_bucket_names(name):
    assert not is_bucket_name(name)
    with pytest.raises(ValueError, match="not a valid bucket name"):
        check_bucket_name(name)


def test_the_uri_pattern_takes_its_bucket_from_the_same_rule():
    match = GS_URI_PATTERN.match("gs://my.bucket.example/frames/a.jpg")
    assert match and match.groups() == ("my.bucket.example", "frames/a.jpg")
    assert GS_URI_PATTERN.match("gs://Bad/a.jpg") is None


def test_resource_path_expands_a_name_and_keeps_a_path():
    assert resource_path("topics", "frames", "p-1") == "projects/p-1/topics/frames"
    assert resource_path("subscriptions", "alerts-sub", "p-1") == "projects/p-1/subscriptions/alerts-sub"
    assert resource_path("topics", "projects/other/topics/x", "p-1") == "projects/other/topics/x"
    assert resource_path("endpoints", "9", "p-1", "eu-w4") == "projects/p-1/locations/eu-w4/endpoints/9"

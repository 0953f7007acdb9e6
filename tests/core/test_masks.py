"""Exclusion masks' pure logic: validation, the row, latest version wins, and blanking."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from pydantic import ValidationError

from firewatch.core.masks import (
    MAX_RECTANGLES,
    CameraMask,
    apply_mask,
    latest_masks,
    mask_row,
    next_version,
    parse_rectangles,
)
from firewatch.core.regions import pixel_box
from infra.resources import schema_for_table

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def test_parse_rectangles_accepts_lists_and_refuses_bad_ones_with_the_reason() -> None:
    rects = parse_rectangles("[[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1]]")
    assert [r.as_tuple() for r in rects] == [(0.1, 0.2, 0.5, 0.6), (0.0, 0.0, 1.0, 1.0)]
    assert parse_rectangles("[]") == ()
    bad = {
        "not json": "must be JSON",
        '{"x": 1}': "JSON list",
        "[[0.5, 0.2, 0.1, 0.6]]": "rectangle 1",  # x_min > x_max
        "[[0.1, 0.2, 0.5]]": "got 3 numbers",
        "[[0.1, 0.2, 0.5, 1.5]]": "rectangle 1",  # out of range
        '[["a", 0, 1, 1]]': "4 numbers",
        "[[0.1, 0.1, 0.101, 0.5]]": "at least",  # a stray click
        "[[0.1, 0.1, 0.5, NaN]]": "finite",
        json.dumps([[0, 0, 1, 1]] * (MAX_RECTANGLES + 1)): f"at most {MAX_RECTANGLES}",
    }
    for text, reason in bad.items():
        with pytest.raises(ValueError, match=reason):
            parse_rectangles(text)


def test_camera_mask_validates_camera_and_count() -> None:
    with pytest.raises(ValidationError, match="camera id"):
        CameraMask(camera_id="../etc", version=1)
    with pytest.raises(ValidationError):
        CameraMask(camera_id="cam-1", version=0)
    with pytest.raises(ValidationError):
        CameraMask(camera_id="cam-1", version=1, rectangles=[[0, 0, 1, 1]] * (MAX_RECTANGLES + 1))


def test_mask_row_matches_the_schema_and_reads_back() -> None:
    mask = CameraMask(camera_id="cam-1", version=3, rectangles=[[0.1, 0.2, 0.3, 0.4]])
    row = mask_row(mask, mask_id="k" * 20, operator="alice", created_at=T0, note="  chimney ")
    columns = {f["name"] for f in schema_for_table("masks")}
    assert set(row) - {"_row_id"} == columns
    assert row["rectangles"] == [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, "y_max": 0.4}]
    assert (row["note"], row["_row_id"], row["created_at"]) == ("chimney", "k" * 20, "2026-11-23T10:00:00.000000Z")
    assert latest_masks([row])["cam-1"] == mask  # a row read back is the same mask
    with pytest.raises(ValueError, match="mask id"):
        mask_row(mask, mask_id="short", operator="alice", created_at=T0)
    with pytest.raises(ValueError, match="timezone"):
        mask_row(mask, mask_id="k" * 20, operator="alice", created_at=T0.replace(tzinfo=None))


def _row(camera: str, version: int, rects: list, minutes: int = 0) -> dict:
    mask = CameraMask(camera_id=camera, version=version, rectangles=rects)
    return mask_row(mask, mask_id=f"{camera}-{version}-{minutes}".ljust(16, "x"), operator="o",
                    created_at=T0 + dt.timedelta(minutes=minutes))  # fmt: skip


def test_latest_version_wins_per_camera_and_an_empty_one_clears() -> None:
    rows = [
        _row("cam-a", 2, [[0.5, 0.5, 1, 1]], minutes=2),
        _row("cam-a", 1, [[0, 0, 0.5, 0.5]], minutes=5),  # an older version written later still loses
        _row("cam-b", 1, [[0, 0, 1, 1]]),
        _row("cam-b", 2, [], minutes=1),
    ]
    masks = latest_masks(rows)
    assert masks["cam-a"].version == 2 and masks["cam-a"].boxes() == ((0.5, 0.5, 1.0, 1.0),)
    assert masks["cam-b"].version == 2 and masks["cam-b"].boxes() == ()
    assert next_version([r for r in rows if r["camera_id"] == "cam-a"]) == 3
    assert next_version([]) == 1


def test_apply_mask_blanks_exactly_the_covered_pixels_and_leaves_the_input_alone() -> None:
    x = np.full((10, 20, 3), 0.7, np.float32)
    out = apply_mask(x, [(0.0, 0.0, 0.5, 0.5)])
    assert out is not x and float(x.min()) == pytest.approx(0.7)  # the original is untouched
    assert (out[:5, :10] == 0.0).all() and (out[5:, :] > 0).all() and (out[:, 10:] > 0).all()
    # A rectangle partly covering a pixel blanks it (never under-covers the excluded region).
    assert pixel_box((0.05, 0.05, 0.26, 0.31), 10, 20) == (0, 4, 1, 6)
    whole = apply_mask(x, [(0, 0, 1, 1)])
    assert not whole.any()
    assert apply_mask(x, []) is x


def test_masking_the_fire_region_turns_the_controlled_score_to_clear() -> None:
    """With the controlled model's rule (sigmoid(8 * (mean red - mean blue))), a frame whose red part
    sits in the left half scores fire, and the same frame with the left half masked scores clear."""
    from tests.fixtures.controlled_model import GAIN

    x = np.zeros((64, 64, 3), np.float32)
    x[:, :32, 0] = 1.0  # red on the left (the fire)
    x[:, 32:, 2] = 0.4  # blue sky on the right

    def score(a: np.ndarray) -> float:
        return float(1 / (1 + np.exp(-GAIN * (a[..., 0].mean() - a[..., 2].mean()))))

    assert score(x) > 0.5
    assert score(apply_mask(x, [(0.0, 0.0, 0.5, 1.0)])) < 0.5


def test_an_invalid_row_costs_only_its_own_camera() -> None:
    """A hand-written bad row must not stop every camera's masks from refreshing."""
    rows = [
        _row("cam-a", 1, [[0, 0, 0.5, 0.5]]),
        {**_row("cam-a", 2, [[0, 0, 0.5, 0.5]], minutes=1), "rectangles": "[[0.9, 0.9, 0.1]]"},  # bad: 3 numbers
        {**_row("cam-c", 1, [[0, 0, 0.5, 0.5]]), "rectangles": "not json"},
        _row("cam-b", 3, [[0.5, 0.5, 1, 1]]),
    ]
    problems: list[str] = []
    masks = latest_masks(rows, problems)
    assert masks["cam-a"].version == 1  # its latest valid version
    assert masks["cam-b"].version == 3 and "cam-c" not in masks
    assert len(problems) == 2 and any("cam-a" in p and "version 2" in p for p in problems)

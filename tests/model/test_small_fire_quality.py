"""The demo model scores full-resolution regions: small procedural flames pasted into held-out real photos
at 1080p are found, and clear frames of the same photos are rarely flagged.

A test of model quality on the project's held-out real photographs (`make real-negatives`; never
trained on), with margins (TF on CPU is not bit-reproducible across machines). The flames are
procedural (`model.data.composite`), not photographs of fire. The full table is `scripts/bench_small_fire.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.evaluation.small_fire import measure

HELDOUT = Path(__file__).resolve().parents[2] / "artifacts" / "real-negatives" / "heldout"


@pytest.mark.skipif(not HELDOUT.is_dir(), reason="run `make real-negatives` first")
def test_region_scoring_finds_small_flames_and_rarely_flags_clear_frames(demo_model_dir: Path):
    report = measure(demo_model_dir, HELDOUT, heights=(0.06,), per_photo=1, speed_frames=0)
    whole, regions = report["modes"]["whole"], report["modes"]["regions"]
    assert report["photos"] >= 15
    # target: recall >= 0.9 for flames of 6% of the frame height (measured 1.00); whole-frame scoring
    # misses most of them (measured 0.11)
    assert regions["by_height"]["0.06"]["recall"] >= 0.85
    assert whole["by_height"]["0.06"]["recall"] <= regions["by_height"]["0.06"]["recall"] - 0.3
    # target: <= 1% of clear 1080p frames flagged (any of 66 regions); measured 1.6% (2/124: a sunlit dune)
    assert regions["clear_flagged"] <= 0.05, regions["clear_flagged_frames"]
    assert whole["clear_flagged"] <= 0.05, whole["clear_flagged_frames"]

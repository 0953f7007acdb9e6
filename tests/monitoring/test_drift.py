"""Drift: PSI and image statistics (pure), and the job on the local stack: a camera whose frames turn
dark raises exactly one `drift` event (not one per run); a camera like the reference raises none."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from firewatch.core.drift import drifting_metrics, image_stats, proportions, psi
from tests.fixtures.controlled_model import colour_frame, colour_png, expected_probability


def test_psi_and_image_stats() -> None:
    rng = np.random.default_rng(0)
    same = psi(proportions(rng.uniform(0, 1, 400)), proportions(rng.uniform(0, 1, 400)))
    shifted = psi(proportions(rng.uniform(0, 1, 400)), proportions(rng.uniform(0, 0.1, 400)))
    assert same < 0.1 < 0.25 < shifted
    assert drifting_metrics({"score": same, "brightness": shifted}, 0.25) == ["brightness"]
    dark, grey = np.full((16, 16, 3), 4, np.uint8), np.full((16, 16, 3), 128, np.uint8)
    assert image_stats(dark)["brightness"] < 0.02 and image_stats(grey)["colourfulness"] == 0.0
    assert image_stats(colour_frame(rng, True))["colourfulness"] > 0.3
    with pytest.raises(ValueError, match="bins differ"):
        psi([0.5, 0.5], [1.0])


def _png(pixels: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.stack
def test_a_camera_turning_dark_raises_one_drift_event(gcp_resources, controlled_model_dir, tmp_path, capsys) -> None:
    from firewatch.cli.dispatch import main
    from firewatch.cloud.bigquery_rows import insert_rows
    from firewatch.cloud.clients import bigquery_client, storage_client, subscriber_client

    names = gcp_resources
    rng = np.random.default_rng(5)
    ref_dir = tmp_path / "reference"
    for label, fire in (("fire", True), ("no_fire", False)):
        (ref_dir / label).mkdir(parents=True)
        for i in range(15):
            (ref_dir / label / f"{i}.png").write_bytes(colour_png(rng, fire, size=64))
    ref = tmp_path / "reference.json"
    assert main(["drift", "reference", "--model", str(controlled_model_dir), "--images", str(ref_dir),
                 "--output", str(ref)]) == 0  # fmt: skip

    bucket = storage_client(names.project).bucket(names.frames_bucket)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for camera in ("cam-ok", "cam-dark"):
        for i in range(24):
            if camera == "cam-dark":
                pixels = np.clip(rng.normal(6, 2, (64, 64, 3)), 0, 255).astype(np.uint8)  # a covered lens
            else:
                pixels = colour_frame(rng, fire=bool(i % 2), size=64)
            png = _png(pixels)
            name = f"frames/{camera}/{i}.png"
            bucket.blob(name).upload_from_string(png, content_type="image/png")
            p = expected_probability(pixels)
            rows.append({
                "frame_key": f"{camera}/{i}", "camera_id": camera, "frame_id": str(i),
                "processed_at": (now - dt.timedelta(minutes=10, seconds=-i)).isoformat(), "fire_probability": p,
                "label": "fire" if p >= 0.5 else "no_fire", "threshold": 0.5, "model_version": "controlled-v1",
                "source_uri": f"gs://{names.frames_bucket}/{name}", "content_sha256": hashlib.sha256(png).hexdigest(),
                "mode": "streaming",
            })  # fmt: skip
    insert_rows(names.table_id("predictions_table"), rows)

    argv = ["drift", "run", "--reference", str(ref), "--dataset", names.dataset, "--alerts-topic", names.alerts_topic,
            "--allowed-buckets", names.frames_bucket, "--window-minutes", "30"]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "2 cameras judged, 1 drift events published" in first, first
    assert main(argv) == 0  # still dark: drifting, but no second event
    assert "2 cameras judged, 0 drift events published" in capsys.readouterr().out

    subscriber = subscriber_client()
    try:
        pulled = subscriber.pull(subscription=names.subscription_path("alerts_subscription"), max_messages=10,
                                 timeout=30)  # fmt: skip
    finally:
        subscriber.close()
    events = [json.loads(m.message.data) for m in pulled.received_messages]
    assert [(e["event"], e["camera_id"]) for e in events] == [("drift", "cam-dark")]
    assert pulled.received_messages[0].message.attributes["event"] == "drift"
    assert "brightness" in events[0]["metrics"]
    table = names.table_id("monitoring_table")
    sql = f"SELECT camera_id, drifting, event_published FROM `{table}` ORDER BY camera_id, computed_at"
    judged = list(bigquery_client(names.project).query(sql).result())
    assert [(r.camera_id, r.drifting) for r in judged] == [("cam-dark", True), ("cam-dark", True),
                                                           ("cam-ok", False), ("cam-ok", False)]  # fmt: skip
    assert sum(r.event_published for r in judged) == 1

"""The endpoint's JSON round trip, offline: `firewatch vertex predict`'s requests, decoded as TF Serving
decodes them (tests.vertex.tf_serving) and run through the exported SavedModel's own signatures, give the
probability the pipeline computes for the same image.

The model is `controlled_model_dir` (the real export path, fixed weights: the same numbers on every
machine). The endpoint scores an image whole; the pipeline scores a frame by its regions, the whole frame
first (`firewatch.core.regions`). For a frame below `min_frame_factor` model inputs the whole frame is its
only region, so the two agree on the frame's probability; for a large frame the endpoint's answer is the
pipeline's whole-frame region, and a small fire can lift the pipeline's frame probability above it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from firewatch.cloud.models import load_exported
from firewatch.core.imaging import decode_image
from firewatch.core.model_contract import PATHS_SIGNATURE
from firewatch.core.regions import WHOLE_FRAME, RegionConfig, cut_regions, score_pixels
from tests.fixtures.controlled_model import THRESHOLD, colour_frame
from tests.vertex.tf_serving import FakeEndpoint
from vertex import predict
from vertex.config import VertexPredictConfig


def _encode(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def exported(controlled_model_dir: Path):
    return load_exported(str(controlled_model_dir))


@pytest.fixture(scope="module")
def endpoint(controlled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FakeEndpoint:
    return FakeEndpoint(controlled_model_dir, bucket_dir=tmp_path_factory.mktemp("gcs"))


def _pipeline_probability(exported, data: bytes) -> float:
    """The frame probability the pipelines compute (decode, regions, model, maximum)."""
    pixels = decode_image(data).pixels
    meta = exported.metadata
    return score_pixels(exported.predict_images, pixels, meta.image_size, meta.threshold).scores.probability


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(21)
    mixed = colour_frame(rng, fire=False, size=96)
    mixed[:, :40] = colour_frame(rng, fire=True, size=96)[:, :40]  # near the threshold, not saturated
    return [colour_frame(rng, fire=True, size=96), colour_frame(rng, fire=False, size=96), mixed]


def test_export_has_the_paths_signature_beside_the_bytes_one(exported):
    signatures = exported.loaded.signatures
    assert {"serving_default", "predict_images", PATHS_SIGNATURE} <= set(signatures)
    _, inputs = signatures[PATHS_SIGNATURE].structured_input_signature
    assert list(inputs) == ["image_paths"] and inputs["image_paths"].dtype.name == "string"
    assert set(signatures[PATHS_SIGNATURE].structured_outputs) == {"fire_probability", "label"}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_b64_request_gives_the_pipelines_probability(exported, endpoint, tmp_path: Path, fmt: str):
    files = []
    for i, frame in enumerate(_frames()):
        files.append(tmp_path / f"frame{i}.{fmt.lower()}")
        files[-1].write_bytes(_encode(frame, fmt))
    config = VertexPredictConfig(project="p1", endpoint="firewatch", inputs=[str(f) for f in files])
    results = predict.predict(config, client=endpoint)
    body = endpoint.bodies[-1]
    assert list(body) == ["instances"] and set(body["instances"][0]) == {"image_bytes"}
    assert set(body["instances"][0]["image_bytes"]) == {"b64"}
    expected = [_pipeline_probability(exported, f.read_bytes()) for f in files]
    assert [r.input for r in results] == [str(f) for f in files]
    np.testing.assert_allclose([r.fire_probability for r in results], expected, atol=1e-5)
    assert [r.label for r in results] == ["fire" if p >= THRESHOLD else "no_fire" for p in expected]
    assert expected[0] > 0.99 and expected[1] < 0.01 and 0.01 < expected[2] < 0.99  # not all saturated


def test_gs_path_request_reads_the_file_in_the_model(exported, endpoint):
    frames = _frames()
    for i, frame in enumerate(frames):
        path = endpoint.bucket_dir / "frames" / "cam-1" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_encode(frame, "PNG"))
    uris = [f"gs://frames/cam-1/{i}.png" for i in range(len(frames))]
    results = predict.predict(VertexPredictConfig(project="p1", endpoint="firewatch", inputs=uris), client=endpoint)
    assert endpoint.bodies[-1] == {"signature_name": PATHS_SIGNATURE, "instances": [{"image_paths": u} for u in uris]}
    expected = [_pipeline_probability(exported, _encode(f, "PNG")) for f in frames]
    np.testing.assert_allclose([r.fire_probability for r in results], expected, atol=1e-5)


def test_large_frame_the_endpoint_answers_the_whole_frame_region(exported, endpoint, tmp_path: Path):
    rng = np.random.default_rng(3)
    frame = colour_frame(rng, fire=False, size=320)
    frame[:120, :120] = colour_frame(rng, fire=True, size=120)  # a fire in one corner of a large frame
    path = tmp_path / "large.png"
    path.write_bytes(_encode(frame, "PNG"))
    (result,) = predict.predict(VertexPredictConfig(project="p1", endpoint="e", inputs=[str(path)]), client=endpoint)
    pixels = decode_image(path.read_bytes()).pixels
    size = exported.metadata.image_size
    regions, inputs = cut_regions(pixels, size, RegionConfig())
    assert len(regions) > 1 and regions[0].level == WHOLE_FRAME
    whole = float(exported.predict_images(inputs[:1])[0])
    assert result.fire_probability == pytest.approx(whole, abs=1e-5)
    # the pipeline's regions see the corner fire; the whole frame (the endpoint's answer) does not
    assert result.fire_probability < THRESHOLD <= _pipeline_probability(exported, path.read_bytes())


def test_b64_round_trip_on_the_trained_demo_model(demo_model_dir: Path, tmp_path: Path):
    """The same round trip on the trained CNN (128-px input): frames of 192 px are scored whole."""
    from model.data.synth import render_fire_frame, render_negative_frame

    demo = load_exported(str(demo_model_dir))
    rng = np.random.default_rng(8)
    files = []
    for i, frame in enumerate([render_fire_frame(rng, 192)[0], render_negative_frame(rng, 192)]):
        files.append(tmp_path / f"{i}.jpg")
        files[-1].write_bytes(_encode(frame, "JPEG"))
    config = VertexPredictConfig(project="p1", endpoint="firewatch", inputs=[str(f) for f in files])
    results = predict.predict(config, client=FakeEndpoint(demo_model_dir))
    expected = [_pipeline_probability(demo, f.read_bytes()) for f in files]
    np.testing.assert_allclose([r.fire_probability for r in results], expected, atol=1e-5)
    assert [r.label for r in results] == demo.labels_for(np.array(expected))

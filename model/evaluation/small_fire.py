"""The small-fire measurements: whole-frame vs region scoring of 1080p frames with pasted flames.

Used by `scripts/bench_small_fire.py` (the full table) and by the demo model's quality test (a
small slice of it). Frames are real photographs without fire (the held-out part of
`make real-negatives`: never trained on) resized and cropped to 1920 x 1080 (`model.data.composite.fit_frame`),
with `model.data.composite`'s procedural flame pasted at several heights (fractions of the frame's
height), positions and lightings. The positives are procedural flames, not photographs of fire.

Both modes call exactly what serving calls (`firewatch.core.regions`): `plan_regions` (regions off:
the whole frame only), `region_inputs`, the exported model's float signature through
`firewatch.cloud.models.load_exported`, then `summarise` with the model's threshold. A frame is
a hit when its probability (the maximum over its regions) reaches the threshold; its reported box
is the top fire box of `summarise`, compared with the pasted flame's box by `iou`. Clear frames (the
same photos without a flame, at two exposures, mirrored or not) give the share of frames flagged.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from model.data.composite import Composite, composite_flame, fit_frame, random_placement

HEIGHTS = (0.5, 0.25, 0.12, 0.06, 0.03)
LIGHTINGS = (1.0, 0.8, 0.55, 0.35)
FRAME_SIZE = (1920, 1080)
MODES = ("whole", "regions")
IOU_TARGET = 0.3


def load_frames(photos_dir: str | Path, size: tuple[int, int] = FRAME_SIZE) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 [H, W, 3]) of every photo in the folder, resized and cropped to size (width, height)."""
    frames = []
    for path in sorted(Path(photos_dir).glob("*.jpg")):
        with Image.open(path) as image:
            frames.append((path.stem, fit_frame(np.asarray(image.convert("RGB")), *size)))
    if not frames:
        raise FileNotFoundError(f"no *.jpg photos in {photos_dir} (run `make real-negatives`)")
    return frames


def flame_frames(
    frames: Sequence[tuple[str, np.ndarray]], heights: Sequence[float], per_photo: int, seed: int = 0
) -> Iterator[tuple[str, Composite]]:
    """For every height, photo and k < per_photo: a flame at a random place and lighting (deterministic)."""
    for h_index, height in enumerate(heights):
        for p_index, (name, frame) in enumerate(frames):
            for k in range(per_photo):
                rng = np.random.default_rng([seed, h_index, p_index, k])
                x, base = random_placement(rng, height, frame.shape[1] / frame.shape[0])
                lighting = float(LIGHTINGS[(p_index + k) % len(LIGHTINGS)])
                flame_seed = [seed, h_index, p_index, k, 1]
                yield name, composite_flame(frame, flame_seed, height=height, x=x, base=base, lighting=lighting)


def clear_frames(frames: Sequence[tuple[str, np.ndarray]]) -> Iterator[tuple[str, np.ndarray]]:
    """The photos without a flame: as photographed and at half exposure, each also mirrored."""
    for name, frame in frames:
        for lighting in (1.0, 0.5):
            lit = frame if lighting == 1.0 else (frame.astype(np.float32) * lighting + 0.5).astype(np.uint8)
            yield f"{name}@{lighting}", lit
            yield f"{name}@{lighting}-mirrored", np.ascontiguousarray(lit[:, ::-1])


@dataclass
class Scorer:
    """A frame -> `RegionScores` with the exported model, whole frame only or regions."""

    model: object  # firewatch.core.model_contract.ExportedModel
    regions: bool
    threshold: float

    @classmethod
    def load(cls, model_dir: str | Path, regions: bool, threshold: float | None = None) -> Scorer:
        from firewatch.cloud.models import load_exported

        model = load_exported(str(model_dir))
        return cls(model, regions, model.metadata.threshold if threshold is None else threshold)

    def inputs(self, pixels: np.ndarray):
        from firewatch.core.regions import RegionConfig, cut_regions

        return cut_regions(pixels, self.model.metadata.image_size, RegionConfig(enabled=self.regions))

    def score(self, pixels: np.ndarray):
        return self.score_and_refine(pixels, refine=False)[0]

    def score_and_refine(self, pixels: np.ndarray, refine: bool = True):
        """(RegionScores, the top fire box narrowed by the model's optional `locate_images` map, or None)."""
        import tensorflow as tf

        from firewatch.core.regions import summarise
        from model.export.localise import LOCATE_SIGNATURE, refine_box

        planned, inputs = self.inputs(pixels)
        probs = self.model.predict_images(inputs)
        height, width = pixels.shape[:2]
        result = summarise(planned, probs, self.threshold, width, height)
        locate = self.model.loaded.signatures.get(LOCATE_SIGNATURE)
        if not (refine and result.boxes and locate is not None):
            return result, None
        top = result.boxes[0].box
        index = next(i for i, r in enumerate(planned) if r.box(width, height) == top)
        fire_map = locate(images=tf.constant(inputs[index : index + 1]))["fire_map"].numpy()[0]
        return result, refine_box(top, fire_map)


def frames_per_second(scorer: Scorer, frames: Sequence[np.ndarray], repeats: int = 1) -> float:
    """1080p frames/s in this process: JPEG decode (`firewatch.core.imaging.decode_image`) + region_inputs + model."""
    from firewatch.core.imaging import decode_image

    encoded = []
    for pixels in frames:
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
        encoded.append(buf.getvalue())
    scorer.score(decode_image(encoded[0]).pixels)  # warm-up (graph tracing)
    started = time.perf_counter()
    for _ in range(repeats):
        for data in encoded:
            scorer.score(decode_image(data).pixels)
    return repeats * len(encoded) / (time.perf_counter() - started)


def measure(
    model_dir: str | Path,
    photos_dir: str | Path,
    heights: Sequence[float] = HEIGHTS,
    per_photo: int = 2,
    seed: int = 0,
    modes: Sequence[str] = MODES,
    speed_frames: int = 12,
    threshold: float | None = None,
) -> dict:
    """Recall by flame height, box IoU of the hits, clear frames flagged and frames/s, per mode."""
    from firewatch.core.regions import iou

    frames = load_frames(photos_dir)
    scorers = {mode: Scorer.load(model_dir, mode == "regions", threshold) for mode in modes}
    rows: dict[str, dict] = {mode: {"by_height": {}} for mode in modes}
    for _name, comp in flame_frames(frames, heights, per_photo, seed):
        for mode, scorer in scorers.items():
            result, refined = scorer.score_and_refine(comp.pixels)
            hit = result.probability >= scorer.threshold
            top = result.boxes[0].box if result.boxes else None
            box_iou = float(iou(top, comp.box)) if (hit and top is not None) else 0.0
            cell = rows[mode]["by_height"].setdefault(
                f"{comp.height:g}", {"frames": 0, "hits": 0, "ious": [], "refined_ious": []}
            )
            cell["frames"] += 1
            cell["hits"] += int(hit)
            cell.setdefault("probabilities", []).append(float(result.probability))
            if hit:
                cell["ious"].append(round(box_iou, 4))
                if refined is not None:
                    cell["refined_ious"].append(round(float(iou(refined, comp.box)), 4))
    flagged: dict[str, list[str]] = {mode: [] for mode in modes}
    clear_count = 0
    max_probs: dict[str, list[float]] = {mode: [] for mode in modes}
    for name, pixels in clear_frames(frames):
        clear_count += 1
        for mode, scorer in scorers.items():
            result = scorer.score(pixels)
            max_probs[mode].append(result.probability)
            if result.probability >= scorer.threshold:
                flagged[mode].append(name)
    speed_set = [f for _, f in frames[:speed_frames]]
    report: dict = {
        "frame_size": list(FRAME_SIZE),
        "photos": len(frames),
        "photos_dir": str(photos_dir),
        "per_photo_per_height": per_photo,
        "clear_frames": clear_count,
        "positives": "procedural flames (model.data.synth) pasted into real photographs; not photographs of fire",
        "modes": {},
    }
    for mode, scorer in scorers.items():
        by_height = {}
        for key, cell in rows[mode]["by_height"].items():
            by_height[key] = {
                "frames": cell["frames"],
                "recall": cell["hits"] / cell["frames"],
                "iou": _iou_summary(cell["ious"]),
                "refined_iou": _iou_summary(cell["refined_ious"]),
            }
        cells = rows[mode]["by_height"].values()
        report["modes"][mode] = {
            "threshold": scorer.threshold,
            "regions_per_frame": len(scorer.inputs(frames[0][1])[0]),
            "by_height": by_height,
            "iou": _iou_summary([v for c in cells for v in c["ious"]]),
            "refined_iou": _iou_summary([v for c in cells for v in c["refined_ious"]]),
            "clear_flagged": len(flagged[mode]) / clear_count,
            "clear_flagged_frames": flagged[mode],
            "clear_max_probability_p50_p90_max": [float(np.percentile(max_probs[mode], q)) for q in (50, 90, 100)],
            "sweep": sweep(rows[mode]["by_height"], max_probs[mode]),
            "frames_per_second": frames_per_second(scorer, speed_set) if speed_frames else None,
        }
    return report


SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def sweep(cells: dict[str, dict], clear_probabilities: Sequence[float]) -> list[dict]:
    """Recall by height and clear frames flagged at other thresholds (a frame's probability is its maximum)."""
    clear = np.asarray(clear_probabilities)
    out = []
    for threshold in SWEEP:
        row: dict = {"threshold": threshold, "clear_flagged": float(np.mean(clear >= threshold))}
        for key, cell in cells.items():
            row[f"recall_{key}"] = float(np.mean(np.asarray(cell["probabilities"]) >= threshold))
        out.append(row)
    return out


def _iou_summary(ious: Sequence[float]) -> dict:
    """How many hits' boxes overlap the flame with IoU >= IOU_TARGET, their share and the median IoU."""
    good = sum(v >= IOU_TARGET for v in ious)
    return {
        "hits": len(ious),
        "at_least_0.3": int(good),
        "share_at_least_0.3": good / len(ious) if ious else None,
        "median": float(np.median(ious)) if ious else None,
    }


def _share(summary: dict) -> str:
    return "-" if not summary["hits"] else f"{summary['at_least_0.3']}/{summary['hits']}"


def table(report: dict) -> str:
    """A markdown table: one row per flame height, whole-frame and region columns side by side.

    "box IoU>=0.3": hits whose top fire box (a whole region) overlaps the flame with IoU >= 0.3;
    "refined": the same box narrowed by the model's optional class-activation map (`model.export.localise`)."""
    modes = list(report["modes"])
    columns = [f"{m}: {c}" for m in modes for c in ("recall", "box IoU>=0.3", "refined box IoU>=0.3")]
    lines = ["| flame height | " + " | ".join(columns) + " |", "|" + "---|" * (1 + len(columns))]
    for key in next(iter(report["modes"].values()))["by_height"]:
        cells = []
        for mode in modes:
            cell = report["modes"][mode]["by_height"][key]
            hits = round(cell["recall"] * cell["frames"])
            cells += [
                f"{cell['recall']:.2f} ({hits}/{cell['frames']})",
                _share(cell["iou"]),
                _share(cell["refined_iou"]),
            ]
        lines.append(f"| {float(key) * 100:g}% of frame height | " + " | ".join(cells) + " |")
    cells = []
    for mode in modes:
        m = report["modes"][mode]
        cells += ["-", _share(m["iou"]), _share(m["refined_iou"])]
    lines.append("| hits, all heights | " + " | ".join(cells) + " |")
    for label, fn in (
        (
            "clear frames flagged",
            lambda m: f"{m['clear_flagged']:.3f} ({len(m['clear_flagged_frames'])}/{report['clear_frames']})",
        ),
        (
            "1080p frames/s (1 process)",
            lambda m: "-" if m["frames_per_second"] is None else f"{m['frames_per_second']:.1f}",
        ),
        ("regions per frame", lambda m: str(m["regions_per_frame"])),
        ("threshold", lambda m: f"{m['threshold']:.3f}"),
    ):
        lines.append(f"| {label} | " + " | ".join(f"{fn(report['modes'][m])} | | " for m in modes) + "|")
    return "\n".join(lines)


def source_metrics(
    model_dir: str | Path, data_dir: str | Path, split: str = "test", threshold: float | None = None
) -> dict:
    """The model on one split of its TFRecords, per source (`model.evaluation.evaluate.metrics_by_source`: `synth` whole
    synthetic frames, `region` regions of real photos with or without a pasted flame, `real` crops of real photos)."""
    from firewatch.cloud.models import load_exported
    from model.data.dataset import eval_dataset
    from model.evaluation.evaluate import metrics_by_source

    model = load_exported(str(model_dir))
    labels, probs, paths = [], [], []
    for batch in eval_dataset(str(data_dir), split, model.metadata.image_size, 64, with_meta=True):
        probs.append(model.predict_images(batch["images"].numpy()))
        labels.append(batch["labels"].numpy())
        paths += [p.decode() for p in batch["source_path"].numpy()]
    limit = model.metadata.threshold if threshold is None else threshold
    out = metrics_by_source(np.concatenate(labels).astype(np.int64), np.concatenate(probs), paths, limit)
    return {source: {k: v for k, v in m.items() if k != "description"} for source, m in out.items()}

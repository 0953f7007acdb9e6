"""False alarms on real non-fire photographs: tile a folder, score every tile, count what fires.

Real cameras see everyday scenes full of warm colours; the synthetic test split says nothing
about them. `score_negatives` cuts every photo of a folder (none of which shows fire) into
square tiles at the model's input size and at larger crops (2x, 4x; stride = tile side), plus
the whole frame squashed to the input size (what the pipelines score), runs the exported
model's float signature on them, and `false_alarm_report` counts the tiles that reach the
threshold: the false-alarm rate per 1,000 tiles, per tile size and per image, and the worst
images. `plot_worst_sheet` draws the worst images' firing tiles into a PNG.

The tiling and the accounting are pure functions (tested with a model whose output the test
controls); only `score_negatives` runs TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TILE_SCALES = (1, 2, 4)  # tile side = scale x the model's input size
FULL_FRAME = 0  # `Tile.side` of the whole frame
DEFAULT_MAX_SIDE = 1280  # photos are first shrunk to this longer side (a 720p-1080p camera frame)


@dataclass(frozen=True)
class Tile:
    image: str  # file name relative to the folder
    y: int
    x: int
    height: int
    width: int
    side: int  # tile side in pixels, FULL_FRAME for the whole frame


@dataclass(frozen=True)
class ScoredTile:
    tile: Tile
    probability: float


def tile_boxes(height: int, width: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners of the non-overlapping side x side tiles that fit in a height x width image,
    centred (the leftover margin is split evenly); none when the image is smaller than a tile."""
    rows, cols = height // side, width // side
    y0, x0 = (height - rows * side) // 2, (width - cols * side) // 2
    return [(y0 + r * side, x0 + c * side) for r in range(rows) for c in range(cols)]


def tiles_for_image(name: str, height: int, width: int, image_size: int, scales=TILE_SCALES) -> list[Tile]:
    """Every tile of one image: each scale's grid, then the full frame."""
    tiles = [
        Tile(name, y, x, scale * image_size, scale * image_size, scale * image_size)
        for scale in scales
        for y, x in tile_boxes(height, width, scale * image_size)
    ]
    return tiles + [Tile(name, 0, 0, height, width, FULL_FRAME)]


def shrink(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most max_side."""
    h, w = pixels.shape[:2]
    if max(h, w) <= max_side:
        return pixels
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.BILINEAR))


def list_photos(folder: str | Path) -> list[Path]:
    """Image files under folder (recursively), in name order; a clear error if there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"--negatives {folder} is not a folder; give a folder of real photos without fire "
            "(`make real-negatives` prepares artifacts/real-negatives/heldout)"
        )
    photos = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        raise FileNotFoundError(f"--negatives {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return photos


def false_alarm_report(scored: list[ScoredTile], threshold: float, worst: int = 8) -> dict:
    """Counts of tiles at or above the threshold: overall, per tile side, per image (worst first)."""
    fired = [s for s in scored if s.probability >= threshold]
    per_side: dict[str, dict] = {}
    for s in scored:
        key = "full_frame" if s.tile.side == FULL_FRAME else str(s.tile.side)
        entry = per_side.setdefault(key, {"tiles": 0, "false_alarms": 0})
        entry["tiles"] += 1
        entry["false_alarms"] += int(s.probability >= threshold)
    for entry in per_side.values():
        entry["per_1000_tiles"] = 1000.0 * entry["false_alarms"] / entry["tiles"]
    per_image: dict[str, dict] = {}
    for s in scored:
        entry = per_image.setdefault(s.tile.image, {"image": s.tile.image, "tiles": 0, "false_alarms": 0, "max": 0.0})
        entry["tiles"] += 1
        entry["false_alarms"] += int(s.probability >= threshold)
        entry["max"] = max(entry["max"], s.probability)
    ranked = sorted(per_image.values(), key=lambda e: (-e["false_alarms"], -e["max"], e["image"]))
    n = len(scored)
    return {
        "images": len(per_image),
        "tiles": n,
        "false_alarms": len(fired),
        "false_alarm_rate": len(fired) / n if n else 0.0,
        "per_1000_tiles": 1000.0 * len(fired) / n if n else 0.0,
        "images_with_false_alarms": sum(1 for e in per_image.values() if e["false_alarms"]),
        "threshold": threshold,
        "per_tile_side": per_side,
        "worst_images": [
            {
                "image": e["image"],
                "tiles": e["tiles"],
                "false_alarms": e["false_alarms"],
                "max_probability": round(e["max"], 4),
            }
            for e in ranked[:worst]
        ],
    }


def crop(pixels: np.ndarray, tile: Tile) -> np.ndarray:
    return pixels[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width]


def load_photo(path: Path, max_side: int) -> np.ndarray:
    from firewatch.core.imaging import decode_image

    return shrink(decode_image(path.read_bytes()).pixels, max_side)


def score_negatives(
    exported, folder: str | Path, *, max_side: int = DEFAULT_MAX_SIDE, batch_size: int = 64, scales=TILE_SCALES
) -> list[ScoredTile]:
    """Score every tile of every photo in folder with the exported model's float signature."""
    from firewatch.core.imaging import to_model_input

    size = exported.metadata.image_size
    scored: list[ScoredTile] = []
    for path in list_photos(folder):
        pixels = load_photo(path, max_side)
        name = str(path.relative_to(folder))
        tiles = tiles_for_image(name, pixels.shape[0], pixels.shape[1], size, scales)
        for start in range(0, len(tiles), batch_size):
            chunk = tiles[start : start + batch_size]
            batch = np.stack([to_model_input(crop(pixels, t), size) for t in chunk])
            probs = np.asarray(exported.predict_images(batch)).reshape(-1)
            scored += [ScoredTile(t, float(p)) for t, p in zip(chunk, probs, strict=True)]
    return scored


def plot_worst_sheet(
    folder: str | Path,
    scored: list[ScoredTile],
    threshold: float,
    path: str,
    *,
    images: int = 6,
    tiles_per_image: int = 7,
    max_side: int = DEFAULT_MAX_SIDE,
) -> None:
    """One row per worst image: the photo with its firing tiles outlined, then its highest-scoring tiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    report = false_alarm_report(scored, threshold, worst=images)
    rows = [w for w in report["worst_images"] if w["false_alarms"]] or report["worst_images"][:1]
    cols = 1 + tiles_per_image
    fig, axes = plt.subplots(len(rows), cols, figsize=(cols * 1.9, len(rows) * 2.0), dpi=80, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, worst in enumerate(rows):
        pixels = load_photo(Path(folder) / worst["image"], max_side)
        mine = sorted((s for s in scored if s.tile.image == worst["image"]), key=lambda s: -s.probability)
        axes[r, 0].imshow(pixels)
        axes[r, 0].set_title(f"{worst['image'][:22]}\n{worst['false_alarms']}/{worst['tiles']} tiles", fontsize=7)
        for s in mine:
            if s.probability >= threshold and s.tile.side != FULL_FRAME:
                axes[r, 0].add_patch(
                    patches.Rectangle(
                        (s.tile.x, s.tile.y), s.tile.width, s.tile.height, fill=False, color="red", linewidth=0.8
                    )
                )
        for c, s in enumerate(mine[:tiles_per_image], start=1):
            axes[r, c].imshow(crop(pixels, s.tile))
            side = "full" if s.tile.side == FULL_FRAME else f"{s.tile.side}px"
            colour = "red" if s.probability >= threshold else "black"
            axes[r, c].set_title(f"{side} p={s.probability:.2f}", fontsize=7, color=colour)
    fig.suptitle(f"worst real non-fire images (threshold {threshold:.3f}; red = false alarm)", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path)
    plt.close(fig)

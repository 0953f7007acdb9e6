"""Full-resolution region scoring: where in a frame the model looks, and what a frame's regions say.

A camera sees a young fire as a small part of a large frame. Squashing a 1920 x 1080 frame to the
model's 128 x 128 input shrinks a flame 65 px tall to 8 px, below what the model can see. So a
frame is scored as a set of **regions**:

* the whole frame (level 0), resized to the model input as before (`firewatch.core.imaging.preprocess`);
* at each scale of `RegionConfig.scales` (a region's side as a fraction of the frame's shorter
  side, never fewer pixels than the model input: regions are downscaled, never upscaled), square
  regions laid over the full-resolution frame with `overlap` between neighbours, aspect ratio
  kept. A 1080p frame at the default scales (0.5, 0.25) and overlap 0.25 gives 1 + 15 + 50 regions.

Every region of a frame goes through the model in one batch (`region_inputs` cuts them: one resize
of the frame per scale, then slices). The frame's probability is the maximum over its regions;
its **fire boxes** are the firing regions (at or above the threshold), the most specific first: a
firing region that contains a smaller firing region is not reported, since the smaller one says
more precisely where the fire is. Boxes are fractions of the frame (x_min, y_min, x_max, y_max),
origin top left, like the exclusion masks' rectangles.

Exclusion masks act per region: a region whose area is mostly (`mask_cover`) inside the camera's
masked rectangles is not scored at all, and the masked pixels are blanked in the regions that are.

Pure functions (numpy, plus TensorFlow's resize for the pixels), and the geometry leaf of the core
(no firewatch imports at module level); the Beam wrappers and the console, edge, training and
benchmark code call them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

WHOLE_FRAME = 0  # `Region.level` of the whole frame
Box = tuple[float, float, float, float]  # (x_min, y_min, x_max, y_max), fractions of the frame, origin top left
WHOLE_BOX: Box = (0.0, 0.0, 1.0, 1.0)
MASK_RASTER = 32  # a region's masked share is measured on a 32 x 32 sample grid


class RegionConfig(BaseModel):
    """Which regions of a frame are scored (one field per pipeline flag, `--regions-*`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True,
        description=(
            "score full-resolution regions as well as the whole frame, for frames of at least "
            "min_frame_factor model inputs on their shorter side (false: the whole frame only)"
        ),
    )
    scales: tuple[float, ...] = Field(
        (0.5, 0.25),
        description="region sides as fractions of the frame's shorter side (regions never go below the model input)",
    )
    min_frame_factor: float = Field(
        2.0,
        ge=1.0,
        le=64.0,
        description="frames whose shorter side is less than this many model inputs are scored whole",
    )
    overlap: float = Field(0.25, ge=0.0, le=0.75, description="overlap between neighbouring regions (share of a side)")
    mask_cover: float = Field(
        0.5, gt=0.0, le=1.0, description="a region with at least this share of its area masked is not scored"
    )
    max_boxes: int = Field(8, ge=1, le=64, description="fire boxes reported per frame, the most probable first")
    max_regions: int = Field(
        400, ge=1, le=4096, description="most regions scored per frame (a guard against huge frames)"
    )

    @field_validator("scales")
    @classmethod
    def _scales(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not (0.0 < s < 1.0) for s in value):
            raise ValueError(f"each scale must be between 0 and 1 (exclusive), got {list(value)}")
        return tuple(sorted(set(value), reverse=True))  # coarse to fine, once each


@dataclass(frozen=True)
class Region:
    """A square (or, for the whole frame, the frame's own) rectangle of the frame, in pixels."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive
    level: int  # WHOLE_FRAME, or 1 + the index of its scale in RegionConfig.scales

    @property
    def side(self) -> int:
        return self.x1 - self.x0

    def box(self, width: int, height: int) -> Box:
        return (self.x0 / width, self.y0 / height, self.x1 / width, self.y1 / height)


def _starts(length: int, side: int, stride: float) -> list[int]:
    """Evenly spread starts of `side`-long windows covering [0, length), neighbours at most `stride` apart."""
    if side >= length:
        return [0]
    count = math.ceil((length - side) / stride) + 1
    return sorted({round(i * (length - side) / (count - 1)) for i in range(count)})


def plan_regions(width: int, height: int, image_size: int, config: RegionConfig) -> list[Region]:
    """The regions a width x height frame is scored as: the whole frame first, then each scale's grid.

    Frames whose shorter side is under `min_frame_factor` model inputs (or with regions off) are the
    whole frame only: their regions would be most of the frame again."""
    regions = [Region(0, 0, width, height, WHOLE_FRAME)]
    short = min(width, height)
    if not config.enabled or short < config.min_frame_factor * image_size:
        return regions
    sides: set[int] = set()
    for level, scale in enumerate(config.scales, start=1):
        side = max(round(scale * short), image_size)
        if side >= short or side in sides:
            continue  # as large as the frame's shorter side, or a coarser level's side: already covered
        sides.add(side)
        stride = side * (1.0 - config.overlap)
        regions += [
            Region(x, y, x + side, y + side, level)
            for y in _starts(height, side, stride)
            for x in _starts(width, side, stride)
        ]
    return regions[: config.max_regions]


def masked_share(region: Region, rectangles: Sequence[Sequence[float]], width: int, height: int) -> float:
    """Share of the region's area inside the union of the (normalised) rectangles, on a sample grid."""
    if not rectangles:
        return 0.0
    xs = (region.x0 + (np.arange(MASK_RASTER) + 0.5) * (region.x1 - region.x0) / MASK_RASTER) / width
    ys = (region.y0 + (np.arange(MASK_RASTER) + 0.5) * (region.y1 - region.y0) / MASK_RASTER) / height
    covered = np.zeros((MASK_RASTER, MASK_RASTER), bool)
    for x_min, y_min, x_max, y_max in rectangles:
        covered |= ((ys >= y_min) & (ys < y_max))[:, None] & ((xs >= x_min) & (xs < x_max))[None, :]
    return float(covered.mean())


def unmasked_regions(
    regions: Sequence[Region], rectangles: Sequence[Sequence[float]], width: int, height: int, cover: float
) -> list[Region]:
    """The regions still scored under a mask: the whole frame always (blanked), others unless mostly masked."""
    if not rectangles:
        return list(regions)
    return [r for r in regions if r.level == WHOLE_FRAME or masked_share(r, rectangles, width, height) < cover]


def pixel_box(rect: Sequence[float], height: int, width: int) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the pixels a normalised rectangle touches: every pixel it covers
    even partly is included, so a masked region is never under-covered."""
    x0, y0, x1, y1 = rect
    c0, c1 = int(math.floor(x0 * width)), int(math.ceil(x1 * width))
    r0, r1 = int(math.floor(y0 * height)), int(math.ceil(y1 * height))
    return max(0, r0), min(height, r1), max(0, c0), min(width, c1)


def blank(pixels: np.ndarray, rectangles: Sequence[Sequence[float]], fill: float = 0) -> np.ndarray:
    """A copy of an image [H, W, C] (a frame, or a model input) with the normalised rectangles' pixels
    set to `fill` (black: no colour, no light, the explanations' baseline too); the image itself is never
    modified, and without rectangles it is returned as is. Every pixel a rectangle touches is blanked."""
    if not rectangles:
        return pixels
    if pixels.ndim != 3:
        raise ValueError(f"an image must be [height, width, channels], got shape {pixels.shape}")
    out = np.array(pixels, copy=True)
    height, width = out.shape[:2]
    for rect in rectangles:
        r0, r1, c0, c1 = pixel_box(rect, height, width)
        out[r0:r1, c0:c1] = fill
    return out


def cut_regions(
    pixels: np.ndarray,
    image_size: int,
    config: RegionConfig,
    rectangles: Sequence[Sequence[float]] = (),
) -> tuple[list[Region], np.ndarray]:
    """A decoded frame's regions and their model inputs [R, S, S, 3]: planned, mostly-masked ones left
    out, the mask blanked (what the pipelines' decode step and `score_pixels` both do)."""
    height, width = pixels.shape[:2]
    regions = plan_regions(width, height, image_size, config)
    regions = unmasked_regions(regions, rectangles, width, height, config.mask_cover)
    return regions, region_inputs(blank(pixels, rectangles), regions, image_size)


def region_inputs(pixels: np.ndarray, regions: Sequence[Region], image_size: int) -> np.ndarray:
    """Model inputs of the regions, float32 [R, S, S, 3] in [0, 1], in the regions' order.

    The whole frame is `preprocess(pixels, S)` (bit for bit what the exported model's bytes signature
    computes). Each other level resizes the frame once, so that its regions' side becomes S (the same
    antialiased bilinear resize), and slices its regions out of that."""
    from firewatch.core.imaging import preprocess

    height, width = pixels.shape[:2]
    out = np.empty((len(regions), image_size, image_size, 3), np.float32)
    by_level: dict[int, list[int]] = {}
    for i, region in enumerate(regions):
        by_level.setdefault(region.level, []).append(i)
    for level, indices in by_level.items():
        if level == WHOLE_FRAME:
            whole = np.asarray(preprocess(pixels, image_size), np.float32)
            for i in indices:
                out[i] = whole
            continue
        side = regions[indices[0]].side
        factor = image_size / side
        scaled_h, scaled_w = max(image_size, round(height * factor)), max(image_size, round(width * factor))
        scaled = _resized(pixels, scaled_h, scaled_w)
        for i in indices:
            region = regions[i]
            top = min(round(region.y0 * factor), scaled_h - image_size)
            left = min(round(region.x0 * factor), scaled_w - image_size)
            out[i] = scaled[top : top + image_size, left : left + image_size]
    return out


def _resized(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """The frame resized to height x width, float32 in [0, 1]: `preprocess`'s antialiased bilinear
    resize, not square, applied to the uint8 frame (the same sums, a third of the time at 1080p)."""
    import tensorflow as tf

    if (height, width) == pixels.shape[:2]:
        return pixels.astype(np.float32) / 255.0
    resized = tf.image.resize(pixels, [height, width], method="bilinear", antialias=True)
    return resized.numpy() / np.float32(255.0)


@dataclass(frozen=True)
class FireBox:
    """A firing region of a frame: where (fractions of the frame), how probable, at which level."""

    box: Box
    probability: float
    level: int = WHOLE_FRAME


@dataclass(frozen=True)
class RegionScores:
    """What a frame's regions say: its probability (the maximum), where, and how many were scored."""

    probability: float
    threshold: float  # the threshold the frame was judged by: fire exactly when probability >= it
    boxes: tuple[FireBox, ...]  # firing regions, most specific kept, most probable first
    peak_box: Box  # the region of the maximum (the most specific among equals)
    peak_index: int  # its index in the scored regions
    regions_scored: int


def contains(outer: Box, inner: Box, share: float = 0.9) -> bool:
    """Whether at least `share` of `inner`'s area lies inside `outer`."""
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return area > 0 and intersection(outer, inner) >= share * area


def intersection(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    inter = intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


MAP_LEVEL = 0.5  # a fire map's cells at or above this share of its maximum make the refined box
MAP_UPSAMPLE = 4


def refine_box(region_box: Sequence[float], fire_map: np.ndarray, level: float = MAP_LEVEL) -> Box:
    """The part of a firing region (`region_box`, fractions of the frame) where the model saw the fire:
    the cells of its fire map ([h, w], the model's optional `locate_images` output, a class-activation
    map) at or above `level` x the map's maximum, bilinearly upsampled; the whole region when the map
    is flat or empty."""
    from PIL import Image

    cam = np.asarray(fire_map, np.float32)
    h, w = cam.shape
    cam = np.asarray(Image.fromarray(cam, mode="F").resize((w * MAP_UPSAMPLE, h * MAP_UPSAMPLE), Image.BILINEAR))
    top = float(cam.max())
    x0, y0, x1, y1 = (float(v) for v in region_box)
    if not np.isfinite(top) or top <= 0:
        return (x0, y0, x1, y1)
    hot = cam >= level * top
    rows, cols = np.flatnonzero(hot.any(axis=1)), np.flatnonzero(hot.any(axis=0))
    h, w = cam.shape
    return (
        x0 + (x1 - x0) * cols[0] / w,
        y0 + (y1 - y0) * rows[0] / h,
        x0 + (x1 - x0) * (cols[-1] + 1) / w,
        y0 + (y1 - y0) * (rows[-1] + 1) / h,
    )


@dataclass(frozen=True)
class RegionOutputs:
    """The model's answer for one frame's regions: a probability each, and where in each region it saw
    fire when the model can say (`locate_images`: fire maps [R, h, w]; None otherwise), and the
    threshold of the model version that scored them (None: the job's model's)."""

    probabilities: np.ndarray
    fire_maps: np.ndarray | None = None
    threshold: float | None = None


def summarise(
    regions: Sequence[Region],
    probabilities: Sequence[float] | np.ndarray,
    thresholds: float | Sequence[float] | np.ndarray,
    width: int,
    height: int,
    max_boxes: int = 8,
    fire_maps: np.ndarray | None = None,
) -> RegionScores:
    """The frame's result from its regions' probabilities (and each region's threshold).

    probability: the maximum over regions. boxes: the firing regions (p >= the region's threshold),
    dropping any that contains a smaller firing region, the most probable first, at most max_boxes.
    threshold: the most probable firing region's threshold when a region fired, else the most
    probable region's, so the frame is fire exactly when its probability reaches it (with one
    threshold for every region, that threshold)."""
    if len(regions) == 0 or len(regions) != len(probabilities):
        raise ValueError(f"{len(regions)} regions but {len(probabilities)} probabilities")
    probs = np.asarray(probabilities, np.float64)
    limits = np.broadcast_to(np.asarray(thresholds, np.float64), probs.shape)
    boxes = [r.box(width, height) for r in regions]
    areas = np.array([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes])
    # the peak: the highest probability, the smallest region among (nearly) equal ones
    best = float(probs.max())
    near = [i for i in range(len(regions)) if probs[i] >= best - 1e-6]
    peak = min(near, key=lambda i: (areas[i], -probs[i]))
    firing = sorted((i for i in range(len(regions)) if probs[i] >= limits[i]), key=lambda i: (areas[i], -probs[i]))
    kept: list[int] = []
    for i in firing:
        if not any(contains(boxes[i], boxes[j]) for j in kept):
            kept.append(i)
    kept.sort(key=lambda i: -probs[i])
    decided_by = max(firing, key=lambda i: probs[i]) if firing else int(np.argmax(probs))
    fire_boxes = tuple(
        FireBox(
            boxes[i] if fire_maps is None else refine_box(boxes[i], fire_maps[i]), float(probs[i]), regions[i].level
        )
        for i in kept[:max_boxes]
    )
    return RegionScores(
        probability=best,
        threshold=float(limits[decided_by]),
        boxes=fire_boxes,
        peak_box=boxes[peak],
        peak_index=peak,
        regions_scored=len(regions),
    )


@dataclass(frozen=True)
class ScoredPixels:
    """`score_pixels`' answer: the regions' summary, and the peak region's model input (to explain)."""

    scores: RegionScores
    regions: tuple[Region, ...]
    peak_input: np.ndarray  # float32 [S, S, 3]


def score_pixels(
    predict: Callable[[np.ndarray], np.ndarray],
    pixels: np.ndarray,
    image_size: int,
    threshold: float,
    config: RegionConfig | None = None,
    rectangles: Sequence[Sequence[float]] = (),
    locate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> ScoredPixels:
    """One decoded frame scored by its regions in one call: `predict(float32 [R, S, S, 3]) -> [R]`.

    What the pipelines do across their steps (decode, RunInference, postprocess), for the code
    that scores a frame at a time: the console's upload page, the edge runner, the benchmarks."""
    config = config or RegionConfig()
    height, width = pixels.shape[:2]
    regions, inputs = cut_regions(pixels, image_size, config, rectangles)
    fire_maps = None
    if locate is not None:  # the model's fire maps narrow the boxes (see refine_box)
        probabilities, fire_maps = locate(inputs)
    else:
        probabilities = predict(inputs)
    probabilities = np.asarray(probabilities, np.float64).reshape(-1)
    scores = summarise(regions, probabilities, threshold, width, height, config.max_boxes, fire_maps)
    return ScoredPixels(scores, tuple(regions), inputs[scores.peak_index])

"""The folder `firewatch data from-feedback` writes, read back as training and held-out frames.

Each manifest line (`ROOT/feedback_manifest.jsonl`) names an image under `ROOT/<label>/`, its alert
and verdict. Frames are split by *group*: the alert id, or `frame:<frame_key>` for a missed fire
(no alert). A group is held out iff the first 8 bytes of sha256(group) as a fraction of 2**64 fall
below `holdout` (default 0.25), so the split is the same on every machine and run, a frame never
moves between sides as more feedback arrives, and the frames of one alert never straddle the split.
Images are kept as their encoded bytes: training and evaluation decode them with the same
`tf.io.decode_image` + `preprocess` as the base set.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firewatch.core.records import CLASS_NAMES
from model.data.feedback_export import MANIFEST_NAME
from model.errors import FeedbackDataError

SPLIT_FILE = "feedback_split.json"


@dataclass(frozen=True)
class FeedbackFrame:
    frame_key: str
    group: str
    label: str  # "fire" | "no_fire"
    verdict: str
    path: str  # relative to the export root
    encoded: bytes = field(repr=False)

    @property
    def label_index(self) -> int:
        return CLASS_NAMES.index(self.label)


@dataclass(frozen=True)
class FeedbackSplit:
    root: str
    holdout: float
    train: list[FeedbackFrame]
    heldout: list[FeedbackFrame]

    def summary(self) -> dict[str, Any]:
        """What `feedback_split.json` records: which groups and frames went where, and the counts."""

        def side(frames: list[FeedbackFrame]) -> dict[str, Any]:
            return {
                "frames": len(frames),
                "per_label": dict(sorted(Counter(f.label for f in frames).items())),
                "groups": sorted({f.group for f in frames}),
                "frame_keys": sorted(f.frame_key for f in frames),
            }

        rule = "sha256(group)[:8] / 2**64 < holdout; group = alert id, or frame:<frame_key> for a missed fire"
        return {"feedback": self.root, "holdout": self.holdout, "rule": rule,
                "train": side(self.train), "heldout": side(self.heldout)}  # fmt: skip


def group_of(entry: dict[str, Any]) -> str:
    """The unit of the split: the alert, or the single frame of a missed fire."""
    return str(entry["alert_id"]) if entry.get("alert_id") else f"frame:{entry['frame_key']}"


def is_heldout(group: str, holdout: float) -> bool:
    """Deterministic, machine-independent: the same group always lands on the same side."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    value = int.from_bytes(hashlib.sha256(group.encode("utf-8")).digest()[:8], "big") / 2**64
    return value < holdout


def split_entries(entries: list[dict[str, Any]], holdout: float) -> tuple[list[dict], list[dict]]:
    """(train, held-out) manifest entries, split by group."""
    train, heldout = [], []
    for entry in entries:
        (heldout if is_heldout(group_of(entry), holdout) else train).append(entry)
    return train, heldout


def read_manifest(root: str | Path) -> list[dict[str, Any]]:
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FeedbackDataError(
            f"{path} not found: {root} is not a feedback export; write one with "
            "`firewatch data from-feedback --output DIR`"
        )
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            missing = {"path", "label", "frame_key"} - set(entry)
        except (ValueError, TypeError) as exc:
            raise FeedbackDataError(f"{path} line {number} is not a JSON object ({exc}); export again") from None
        if missing:
            raise FeedbackDataError(f"{path} line {number} lacks {sorted(missing)}; export again")
        if entry["label"] not in CLASS_NAMES:
            raise FeedbackDataError(f"{path} line {number}: label {entry['label']!r} is not one of {CLASS_NAMES}")
        entries.append(entry)
    return entries


def _frame(root: Path, entry: dict[str, Any]) -> FeedbackFrame:
    relative = Path(entry["path"])
    if relative.is_absolute() or ".." in relative.parts or relative.parts[:1] != (entry["label"],):
        raise FeedbackDataError(
            f"manifest path {entry['path']!r} is not <label>/<file> under {root} (label {entry['label']}); "
            "export again with `firewatch data from-feedback`"
        )
    try:
        encoded = (root / relative).read_bytes()
    except OSError as exc:
        raise FeedbackDataError(f"cannot read {root / relative} listed in the manifest: {exc.strerror}") from None
    return FeedbackFrame(
        frame_key=str(entry["frame_key"]),
        group=group_of(entry),
        label=entry["label"],
        verdict=str(entry.get("verdict") or ""),
        path=entry["path"],
        encoded=encoded,
    )


def load_feedback(root: str, holdout: float = 0.25) -> FeedbackSplit:
    """Read an export folder and split it; an export without frames is an error (nothing to learn from)."""
    base = Path(root)
    entries = read_manifest(base)
    if not entries:
        raise FeedbackDataError(
            f"{base} holds no judged frames (empty manifest): give verdicts in the console, then export again"
        )
    train, heldout = split_entries(entries, holdout)
    return FeedbackSplit(root, holdout, [_frame(base, e) for e in train], [_frame(base, e) for e in heldout])


def training_pairs(frames: list[FeedbackFrame]) -> list[tuple[bytes, float]]:
    """(encoded, label) of each frame, for `model.data.dataset.train_dataset(extra=..., extra_weight=...)`."""
    return [(f.encoded, float(f.label_index)) for f in frames]

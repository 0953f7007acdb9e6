"""Build step: real photographs without fire, split into train (hard negatives) and held-out (evaluation).

No fire photographs can be downloaded in this project's environment, but everyday photographs
can, and false alarms come from those. This step gathers them from packages only (never a
data set hub), deterministically:

* Debian's `opencv-doc` (`apt-get download`, unpacked with `dpkg-deb -x`): the example photos
  listed in `OPENCV_PHOTOS` (fruit, animals, buildings, people, scenes; drawings, renders and
  grey calibration shots are left out);
* Debian's `plasma-workspace-wallpapers` (optional): the wallpapers that are photographs
  (`WALLPAPER_PHOTOS`: autumn leaves, evening glow, cups, forest, water...);
* Debian's `lomiri-wallpapers-16.04`, `lomiri-wallpapers-20.04` and `mate-backgrounds` (optional):
  the backgrounds that are photographs (`BACKGROUND_PHOTOS`: people with a dog, wine glasses, lamps,
  a sunset, a night sky over the sea, mountains, rivers, birds, insects, orange and yellow flowers,
  a red bowl, paint brushes, storm clouds...); drawings and abstract art are left out;
* scikit-image's bundled `data` photos (ship in the pip package, load offline). The synthetic
  generator (`model.data.synth`) already uses them as backgrounds, so they always go to **train**.

Each package photo goes to `heldout` or `train` by a hash of its scene name (stereo pairs and
before/after shots share a scene, so they never straddle the split): a fixed split that does not
depend on what else was found. Photos are shrunk to at most 1280 px on the longer side and saved
as `OUT/{train,heldout}/<source>-<name>.jpg`, with `OUT/manifest.json` (files, split, sources,
what could not be fetched). Held-out photos are never used for training.

    python -m model.data.real_negatives --out artifacts/real-negatives   # `make real-negatives`

If `apt-get download` is impossible (no Debian registry), it falls back to the scikit-image
photos for both parts and says so in the manifest: then the held-out photos are also synthetic
backgrounds, and the false-alarm figure is optimistic.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HELDOUT_PERCENT = 40
MAX_SIDE = 1280
OPENCV_DIR = "usr/share/doc/opencv-doc/examples/data"
WALLPAPER_DIR = "usr/share/wallpapers"
# name -> scene (pairs share a scene so that they land in the same split)
OPENCV_PHOTOS = {
    "aero1.jpg": "aero",
    "aero3.jpg": "aero",
    "aloeL.jpg": "aloe",
    "aloeR.jpg": "aloe",
    "apple.jpg": "apple",
    "baboon.jpg": "baboon",
    "basketball1.png": "basketball",
    "basketball2.png": "basketball",
    "board.jpg": "board",
    "box_in_scene.png": "box",
    "building.jpg": "building",
    "butterfly.jpg": "butterfly",
    "ela_original.jpg": "ela",
    "fruits.jpg": "fruits",
    "graf1.png": "graf",
    "graf3.png": "graf",
    "home.jpg": "home",
    "leuvenA.jpg": "leuven",
    "leuvenB.jpg": "leuven",
    "licenseplate_motion.jpg": "licenseplate",
    "messi5.jpg": "messi",
    "orange.jpg": "orange",
    "rubberwhale1.png": "rubberwhale",
    "rubberwhale2.png": "rubberwhale",
    "smarties.png": "smarties",
    "squirrel_cls.jpg": "squirrel",
    "stuff.jpg": "stuff",
}
WALLPAPER_PHOTOS = (
    "Autumn",
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "Volna",
    "summer_1am",
)
# Debian package -> (folder in the package, {file: scene}); photographs only
BACKGROUND_PHOTOS: dict[str, tuple[str, dict[str, str]]] = {
    "lomiri-wallpapers-16.04": (
        "usr/share/backgrounds",
        {
            "Bridge_by_Sander_Klootwijk.jpg": "bridge",
            "Dragonfly_by_Bolly.jpg": "dragonfly",
            "Picture_0B_by_freespace.jpg": "fig-bowl",
            "Picture_1A_by_freespace.jpg": "paintbrushes",
            "Wine_by_Jakkub_Mede.jpg": "wine",
            "aitzgorri_by_Aitzol_Berasategi.jpg": "aitzgorri",
            "free_by_Peter_Nerlich.jpg": "lamps",
            "friends_by_Aitzol_Berasategi.jpg": "dog-friends",
            "greentock_by_Peter_Nerlich.jpg": "clock-wall",
            "life_by_Aitzol_Berasategi.jpg": "river-life",
            "picosdeeuropa_by_Aitzol_Berasategi.jpg": "picos-de-europa",
            "seeding_by_Clements_Engelhardt.jpg": "dandelions-seeding",
            "sunset_by_Aitzol_Berasategi.jpg": "sunset-aitzol",
        },
    ),
    "lomiri-wallpapers-20.04": (
        "usr/share/backgrounds",
        {"Infinite-Sea_by_Aury88.jpg": "night-sea", "Kleiber_by_Lukas_Baubkus.jpg": "nuthatch"},
    ),
    "mate-backgrounds": (
        "usr/share/backgrounds/mate/nature",
        {
            "Aqua.jpg": "aqua",
            "Blinds.jpg": "blinds",
            "Dune.jpg": "dune",
            "FreshFlower.jpg": "orange-flower",
            "Garden.jpg": "marigold-garden",
            "GreenMeadow.jpg": "meadow",
            "LadyBird.jpg": "ladybird",
            "RainDrops.jpg": "raindrops",
            "Storm.jpg": "storm",
            "TwoWings.jpg": "dandelion-twowings",
            "Wood.jpg": "wood",
            "YellowFlower.jpg": "yellow-flower",
        },
    ),
}
SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "retina",
    "rocket",
)


def split_for_scene(scene: str) -> str:
    """`heldout` for HELDOUT_PERCENT% of scenes by a hash of the scene name, else `train`."""
    return "heldout" if int(hashlib.sha256(scene.encode()).hexdigest(), 16) % 100 < HELDOUT_PERCENT else "train"


def shrink_rgb(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    image = image.convert("RGB")
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    return image


def apt_unpack(package: str, into: Path) -> Path:
    """`apt-get download PACKAGE` (the .deb only, nothing installed) + `dpkg-deb -x` into a folder."""
    into.mkdir(parents=True, exist_ok=True)
    done = into / f".{package}.done"
    if done.exists():
        return into
    with tempfile.TemporaryDirectory() as tmp:
        download = ["apt-get", "download", package]
        if subprocess.run(download, cwd=tmp, capture_output=True).returncode != 0 and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)  # a fresh machine has no package lists
        subprocess.run(download, cwd=tmp, check=True, capture_output=True, text=True)
        (deb,) = Path(tmp).glob(f"{package}_*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True, capture_output=True, text=True)
    done.touch()
    return into


def _largest_image(folder: Path) -> Path | None:
    images = [p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    return max(images, key=lambda p: p.stat().st_size) if images else None


def package_photos(cache: Path, problems: list[str]) -> list[tuple[str, str, Path]]:
    """(source, scene, path) of the package photos that could be fetched; failures go to `problems`."""
    found: list[tuple[str, str, Path]] = []
    try:
        root = apt_unpack("opencv-doc", cache / "opencv-doc") / OPENCV_DIR
        found += [("opencv", scene, root / name) for name, scene in OPENCV_PHOTOS.items() if (root / name).is_file()]
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        problems.append(f"opencv-doc: {getattr(exc, 'stderr', None) or exc}".strip())
    try:
        root = apt_unpack("plasma-workspace-wallpapers", cache / "plasma-workspace-wallpapers") / WALLPAPER_DIR
        for name in WALLPAPER_PHOTOS:
            path = _largest_image(root / name / "contents" / "images")
            if path is not None:
                found.append(("wallpaper", name, path))
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        problems.append(f"plasma-workspace-wallpapers: {getattr(exc, 'stderr', None) or exc}".strip())
    for package, (folder, photos) in BACKGROUND_PHOTOS.items():
        try:
            root = apt_unpack(package, cache / package) / folder
            found += [("background", scene, root / name) for name, scene in photos.items() if (root / name).is_file()]
        except (OSError, subprocess.CalledProcessError, ValueError) as exc:
            problems.append(f"{package}: {getattr(exc, 'stderr', None) or exc}".strip())
    return found


def skimage_photo(name: str) -> Image.Image:
    from skimage import data

    pixels = np.asarray(getattr(data, name)())
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, -1)
    return Image.fromarray(pixels[..., :3].astype(np.uint8))


def prepare(out: str | Path, cache: str | Path | None = None) -> dict:
    """Write OUT/{train,heldout}/*.jpg and OUT/manifest.json; return the manifest."""
    out = Path(out)
    cache = Path(cache) if cache else out.parent / f"{out.name}.cache"
    problems: list[str] = []
    photos = package_photos(cache, problems)
    fallback = not any(split_for_scene(scene) == "heldout" for _, scene, _ in photos)
    shutil.rmtree(out / "train", ignore_errors=True)
    shutil.rmtree(out / "heldout", ignore_errors=True)
    files = []

    def save(image: Image.Image, source: str, name: str, scene: str, split: str) -> None:
        target = out / split / f"{source}-{Path(name).stem}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shrink_rgb(image).save(target, quality=92)
        files.append({"file": f"{split}/{target.name}", "source": source, "scene": scene, "split": split})

    for source, scene, path in photos:
        with Image.open(path) as image:
            save(image, source, path.name if source == "opencv" else scene, scene, split_for_scene(scene))
    for name in SKIMAGE_PHOTOS:
        # skimage photos are synthetic backgrounds (model.data.synth): train only, unless nothing else exists
        save(skimage_photo(name), "skimage", name, name, split_for_scene(name) if fallback else "train")
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e["file"]):
        digest.update(entry["file"].encode())
        digest.update((out / entry["file"]).read_bytes())
    manifest = {
        "files": sorted(files, key=lambda e: e["file"]),
        "counts": {s: sum(1 for f in files if f["split"] == s) for s in ("train", "heldout")},
        "heldout_percent_of_scenes": HELDOUT_PERCENT,
        "max_side": MAX_SIDE,
        "fallback_skimage_only": fallback,
        "problems": problems,
        "content_hash": digest.hexdigest()[:16],
        "note": "real photographs without fire; split by a hash of the scene name; held-out photos are never "
        "used for training"
        + (
            ". FALLBACK: the Debian packages could not be fetched, so the held-out photos are scikit-image photos "
            "that the synthetic generator also uses as backgrounds: the false-alarm figure on them is optimistic"
            if fallback
            else ""
        ),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def write_training_crops(photos_dir: str | Path, out_dir: str | Path, per_photo: int, size: int, seed: int = 0) -> int:
    """Hard negatives for training: from every photo of photos_dir (the *train* part), the full frame and
    `per_photo - 1` random square crops (side 10-100% of the shorter side: the tile sizes evaluation
    uses), resized to size x size, written as OUT/real-<photo>-<k>.jpg. Deterministic per seed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for index, path in enumerate(sorted(Path(photos_dir).glob("*.jpg"))):
        rng = np.random.default_rng([seed, index])
        with Image.open(path) as image:
            image = image.convert("RGB")
        short = min(image.size)
        for k in range(per_photo):
            if k == 0:
                crop = image
            else:
                side = int(short * rng.uniform(0.1, 1.0))
                x, y = int(rng.integers(0, image.width - side + 1)), int(rng.integers(0, image.height - side + 1))
                crop = image.crop((x, y, x + side, y + side))
            crop.resize((size, size), Image.BILINEAR).save(out / f"real-{path.stem}-{k:02d}.jpg", quality=92)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    from firewatch.config.options import add_config_arguments, config_from_args
    from model.config import RealNegativesConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    add_config_arguments(parser, RealNegativesConfig)
    config = config_from_args(RealNegativesConfig, parser.parse_args(argv))
    manifest = prepare(config.out, config.cache)
    print(f"real negatives in {config.out}: {manifest['counts']} (content {manifest['content_hash']})")
    for problem in manifest["problems"]:
        print(f"  could not fetch {problem}", file=sys.stderr)
    if manifest["fallback_skimage_only"]:
        print("  FALLBACK: only scikit-image photos (see manifest.json's note)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

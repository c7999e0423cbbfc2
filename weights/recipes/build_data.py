"""Build the demo models' training data from the photos that ship inside scikit-image and
scikit-learn, the held-out photos left out.

    .venv/bin/python -m weights.recipes.build_data [--root out/demo-data] [--per-photo N]

The photos, their crops and the night grading are those of the quality benchmark
(`bench/quality/tasks.py`: `PHOTOS`, `load_photo`, `crops`, `night`), imported, not copied. Its
held-out photos (`TEST_PHOTOS`: chelsea, coffee, flower, camera — the ones in `samples/`) are
never loaded here: `training_photos()` leaves them out before anything is read.

- `demo-day2night` (pix2pix, paired): `A/<photo>_<i>.png` = a 256×256 crop, `B/` the same crop
  through the benchmark's night grading (darker midtones, less saturation, a blue cast).
- `demo-sketch2photo` (pix2pix, paired): `translator pairs --kind lineart` (`translator.pairs.make_pairs`,
  seed 0) on the whole training photos (written first to `<root>/demo-sketch2photo-photos/`):
  `SKETCH_VARIANTS` crops of each photo (the centre square, then random squares of 60–100 % of
  the short side) at 256², `A/` the made line art, `B/` the crop; `pairs.json` records the line
  look, which training carries into the model card (`input_style`).
- `demo-photo2painting` (CycleGAN, unpaired): `trainA/` = crops of the colour training photos,
  `trainB/` = the same photos' crops through OpenCV's `stylization` filter (`sigma_s=60,
  sigma_r=0.45`: edge-preserving smoothing with darkened edges, a painted look). Training draws
  the two sides independently (never as pairs), so the two domains differ only in style: with
  different photos on each side, the grey photos (moon, page, gravel, …) ended up mostly on the
  painting side and the model learnt "painting = grey" (BUILD_VERSION 1).

Everything is deterministic (the sketch pairs' random crops and line widths are seeded); a folder is rebuilt only when the way it
was built changes (its `.complete` file records that).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bench.quality.tasks import PHOTOS, TEST_PHOTOS, TRAIN_SCALES, TRAIN_STRIDE, crops, load_photo, night
from translator import imaging
from translator.jobs import run_job
from translator.pairs import make_pairs

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = ROOT / "out" / "demo-data"
SKETCH_VARIANTS = 16  # sketch pairs per training photo (15 photos: 240 pairs, as many as the other demo datasets' crops)
BUILD_VERSION = 2  # bump when a rendering changes, so cached folders are rebuilt


def painting(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's non-photorealistic `stylization` of an (H, W, 3) uint8 RGB image (deterministic)."""
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    out = cv2.stylization(bgr, sigma_s=60, sigma_r=0.45)
    return np.ascontiguousarray(out[..., ::-1])


@dataclass(frozen=True)
class DemoData:
    """One demo dataset: its model kind and a sentence on how it was made (for the model card)."""

    name: str
    kind: str  # pix2pix | cyclegan
    rendering: str


DATASETS: dict[str, DemoData] = {
    "demo-day2night": DemoData(
        "demo-day2night", "pix2pix",
        "A: 256×256 crops of each photo at several scales; B: the same crops through a fixed night grading "
        "(darker midtones, 30 % less saturation, a blue cast; `night()` in bench/quality/tasks.py)",
    ),
    "demo-sketch2photo": DemoData(
        "demo-sketch2photo", "pix2pix",
        f"`translator pairs --kind lineart --variants {SKETCH_VARIANTS} --size 256 --seed 0` on each whole photo: "
        "B = a 256×256 crop (the centre square, then random squares of 60-100 % of the short side), A = line art "
        "made from it (Canny edges with thresholds from the crop's own gradients, specks removed, drawn 1-3 px "
        "wide in black to dark grey on white)",
    ),
    "demo-photo2painting": DemoData(
        "demo-photo2painting", "cyclegan",
        "unpaired: trainA = 256×256 crops of the colour training photos; trainB = the same photos' crops through "
        "OpenCV's stylization filter (sigma_s=60, sigma_r=0.45), drawn independently of trainA during training",
    ),
}


def training_photos() -> list[str]:
    """The photos the demo models learn from: the benchmark's photos minus its held-out ones."""
    return [name for name in PHOTOS if name not in TEST_PHOTOS]


def photo_sides(name: str) -> dict[str, list[str]]:
    """Which training photos each side of dataset `name` is made from (`A`/`B`)."""
    photos = training_photos()
    if DATASETS[name].kind == "pix2pix":
        return {"A": photos, "B": photos}
    colour = [p for p in photos if PHOTOS[p][1]]
    return {"A": colour, "B": colour}


def _photo_crops(name: str, per_photo: int | None, load: Callable[[str], np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    for i, crop in enumerate(crops(load(name), TRAIN_SCALES, TRAIN_STRIDE)):
        if per_photo is not None and i >= per_photo:
            return
        yield f"{name}_{i:03d}", crop


def build(name: str, root: Path = DEFAULT_ROOT, *, per_photo: int | None = None,
          load: Callable[[str], np.ndarray] = load_photo) -> Path:
    """Write dataset `name` under `root/name` (reused when already built the same way).

    `per_photo` keeps only the first N crops of each photo (tests and quick checks);
    `load` reads a photo by name (tests pass a recording wrapper). Returns the dataset folder.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown demo dataset {name!r}: choose from {', '.join(DATASETS)}")
    out = Path(root) / name
    manifest = {"name": name, "version": BUILD_VERSION, "per_photo": per_photo, "photos": training_photos()}
    if name == "demo-sketch2photo":
        manifest["variants"] = SKETCH_VARIANTS
    done = out / ".complete"
    if done.exists() and json.loads(done.read_text()) == manifest:
        return out
    if out.exists():
        shutil.rmtree(out)  # built another way (or interrupted): start over
    if name == "demo-sketch2photo":
        _build_sketch_pairs(out, Path(root) / f"{name}-photos", per_photo, load)
        done.write_text(json.dumps(manifest))
        return out
    sides = photo_sides(name)
    for photo in training_photos():
        for stem, crop in _photo_crops(photo, per_photo, load):
            if DATASETS[name].kind == "pix2pix":
                imaging.write_image(out / "A" / f"{stem}.png", crop)
                imaging.write_image(out / "B" / f"{stem}.png", night(crop))
            else:
                if photo in sides["A"]:
                    imaging.write_image(out / "trainA" / f"{stem}.png", crop)
                if photo in sides["B"]:
                    imaging.write_image(out / "trainB" / f"{stem}.png", painting(crop))
    done.write_text(json.dumps(manifest))
    return out


def _build_sketch_pairs(out: Path, photos: Path, per_photo: int | None, load: Callable[[str], np.ndarray]) -> None:
    """Line-art pairs of the training photos, made by `translator pairs` (`per_photo`: variants)."""
    if photos.exists():
        shutil.rmtree(photos)
    for photo in training_photos():
        imaging.write_image(photos / f"{photo}.png", load(photo))
    summary = run_job(make_pairs(photos, out, kind="lineart", size=256, variants=per_photo or SKETCH_VARIANTS, seed=0))
    if summary.failed:
        raise RuntimeError("; ".join(str(f.error) for f in summary.failed))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the demo models' training data (held-out photos excluded).")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"where the datasets go (default {DEFAULT_ROOT})")
    parser.add_argument("--only", choices=list(DATASETS), action="append", help="build only this dataset (repeatable)")
    parser.add_argument("--per-photo", type=int, metavar="N", help="only the first N crops of each photo (quick checks)")
    args = parser.parse_args(argv)
    for name in args.only or list(DATASETS):
        folder = build(name, args.root, per_photo=args.per_photo)
        counts = {d.name: len(list(d.glob("*.png"))) for d in sorted(folder.iterdir()) if d.is_dir()}
        print(f"{name}: {folder} ({', '.join(f'{k}/ {v}' for k, v in counts.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

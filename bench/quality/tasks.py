"""Held-out evaluation tasks built from photos that ship inside pip packages.

Each task is a deterministic rendering of real photographs (scikit-image's `skimage.data`,
scikit-learn's sample images) into (input, target) pairs of 256×256 crops. Train and test are
split *by source photo*: no crop of a test photo is ever seen in training.

- `edges2photo`: input = inverted Canny edges of the crop (black lines on white), target = the crop.
- `night`: input = the crop, target = a night grading of it (darker, bluer, less saturated).
- `colorize`: input = the crop's luminance as grey RGB, target = the crop (colour photos only).
- `night_unpaired` (CycleGAN): domain A = day crops of half the training photos, domain B = night
  grading of the *other* half; the test pairs are (day, night) renderings of the held-out photos,
  used for evaluation only. The grading is invertible, so the cycle error is meaningful.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CROP = 256
# Shorter side of the photo before tiling into crops: several scales give a few hundred pairs.
TRAIN_SCALES = (256, 320, 400, 512)
TEST_SCALES = (256, 384, 512)
TRAIN_STRIDE = 128
TEST_STRIDE = 192

# Held-out photos (never trained on): a cat, a coffee cup, a flower, and a grey street scene.
TEST_PHOTOS = ("chelsea", "coffee", "flower", "camera")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        img = getattr(data, name)()
        if name == "stereo_motorcycle":
            img = img[0]  # (left, right, disparity): the left view
        return np.asarray(img)

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(name))

    return load


# name -> (loader, is_colour). Licences: see weights/README.md and bench/quality/README.md.
PHOTOS: dict[str, tuple[Callable[[], np.ndarray], bool]] = {
    "astronaut": (_skimage("astronaut"), True),
    "coffee": (_skimage("coffee"), True),
    "chelsea": (_skimage("chelsea"), True),
    "rocket": (_skimage("rocket"), True),
    "hubble_deep_field": (_skimage("hubble_deep_field"), True),
    "retina": (_skimage("retina"), True),
    "immunohistochemistry": (_skimage("immunohistochemistry"), True),
    "stereo_motorcycle": (_skimage("stereo_motorcycle"), True),
    "china": (_sklearn("china.jpg"), True),
    "flower": (_sklearn("flower.jpg"), True),
    "camera": (_skimage("camera"), False),
    "moon": (_skimage("moon"), False),
    "coins": (_skimage("coins"), False),
    "clock": (_skimage("clock"), False),
    "grass": (_skimage("grass"), False),
    "gravel": (_skimage("gravel"), False),
    "brick": (_skimage("brick"), False),
    "page": (_skimage("page"), False),
    "text": (_skimage("text"), False),
}


def load_photo(name: str) -> np.ndarray:
    """The photo as uint8 RGB (grey photos replicated to three channels)."""
    img = PHOTOS[name][0]()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def crops(rgb: np.ndarray, scales: tuple[int, ...], stride: int) -> Iterator[np.ndarray]:
    """256×256 crops tiled over the photo resized to each shorter side in `scales` (no upscaling
    past 2×, which would only repeat pixels)."""
    h, w = rgb.shape[:2]
    for side in scales:
        f = side / min(h, w)
        if f > 2:
            continue
        nh, nw = max(CROP, round(h * f)), max(CROP, round(w * f))
        img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        ys = list(range(0, nh - CROP + 1, stride)) or [0]
        xs = list(range(0, nw - CROP + 1, stride)) or [0]
        for y in ys:
            for x in xs:
                yield img[y : y + CROP, x : x + CROP]


# --- renderings (deterministic, pointwise or local) --------------------------------------------


def edges(rgb: np.ndarray) -> np.ndarray:
    """Inverted Canny edges: black lines on white, as RGB."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.GaussianBlur(grey, (5, 5), 1.2)
    e = cv2.Canny(grey, 60, 150)
    return np.repeat((255 - e)[..., None], 3, axis=2)


def night(rgb: np.ndarray) -> np.ndarray:
    """A night grading: darker midtones, 30 % less saturation, a blue cast."""
    x = rgb.astype(np.float32) / 255.0
    lum = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = 0.7 * x + 0.3 * lum[..., None]
    x = 0.5 * np.power(x, 1.5) * np.array([0.75, 0.9, 1.2], np.float32) + np.array([0.0, 0.01, 0.04], np.float32)
    graded: np.ndarray = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    return graded


def grey(rgb: np.ndarray) -> np.ndarray:
    """The luminance as grey RGB."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.repeat(g[..., None], 3, axis=2)


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # pix2pix | cyclegan
    render: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # crop -> (input, target)
    colour_only: bool = False
    description: str = ""


TASKS: dict[str, Task] = {
    "edges2photo": Task("edges2photo", "pix2pix", lambda c: (edges(c), c), description="inverted Canny edges → photo"),
    "night": Task("night", "pix2pix", lambda c: (c, night(c)), description="day photo → night grading"),
    "colorize": Task("colorize", "pix2pix", lambda c: (grey(c), c), colour_only=True, description="grey → colour"),
    "night_unpaired": Task("night_unpaired", "cyclegan", lambda c: (c, night(c)),
                           description="day ↔ night grading, unpaired (CycleGAN)"),
}


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def build(task: Task, root: Path) -> Path:
    """Write the task's train and test sets under `root/task.name` (once; reused after).

    Paired tasks: `train/A`, `train/B` (paired by name); CycleGAN: `train/trainA`, `train/trainB`
    from disjoint halves of the training photos. Test: `test/A`, `test/B` paired by name.
    """
    out = root / task.name
    done = out / ".complete"
    if done.exists():
        return out
    names = [n for n, (_, colour) in PHOTOS.items() if colour or not task.colour_only]
    train_names = [n for n in names if n not in TEST_PHOTOS]
    test_names = [n for n in names if n in TEST_PHOTOS]
    for i, name in enumerate(train_names):
        for j, c in enumerate(crops(load_photo(name), TRAIN_SCALES, TRAIN_STRIDE)):
            a, b = task.render(c)
            stem = f"{name}_{j:03d}"
            if task.kind == "pix2pix":
                _write(out / "train" / "A" / f"{stem}.png", a)
                _write(out / "train" / "B" / f"{stem}.png", b)
            elif i % 2 == 0:
                _write(out / "train" / "trainA" / f"{stem}.png", a)
            else:
                _write(out / "train" / "trainB" / f"{stem}.png", b)
    for name in test_names:
        for j, c in enumerate(crops(load_photo(name), TEST_SCALES, TEST_STRIDE)):
            a, b = task.render(c)
            _write(out / "test" / "A" / f"{name}_{j:03d}.png", a)
            _write(out / "test" / "B" / f"{name}_{j:03d}.png", b)
    done.touch()
    return out

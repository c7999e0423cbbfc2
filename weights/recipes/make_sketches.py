"""The sketch examples in `docs/sketches/`: drawings `demo-sketch2photo` never saw, and what it makes of them.

    .venv/bin/python -m weights.recipes.make_sketches [--model weights/demo-sketch2photo.safetensors] [--out docs/sketches]

Three drawings in a hand-drawn style (strokes through jittered points, each stroke its own width
of 1-3 px, anti-aliased, dark grey) of things no training photo shows — a house under the sun, a
face, hills with a tree — and the line art `translator pairs` makes of a held-out photo (coffee,
never trained on). Each file is the sketch and the model's output side by side at 256×256, the
model's training size. Seeded: a rerun draws the same sketches.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.quality.tasks import load_photo
from translator import imaging
from translator.inference import InferenceOptions, load_translator, translate_array
from translator.pairs import crop_square, make_input

ROOT = Path(__file__).resolve().parents[2]
SIZE = 256
Points = list[tuple[float, float]]


class Pen:
    """Draws strokes on a white page as a hand would: wobbly, each stroke its own width."""

    def __init__(self, seed: int) -> None:
        self.page = np.full((SIZE, SIZE), 255, np.uint8)
        self.rng = np.random.default_rng(seed)

    def stroke(self, points: Points, closed: bool = False) -> None:
        """A stroke through `points` (densified, jittered by a smooth random offset)."""
        pts = np.asarray(points + ([points[0]] if closed else []), np.float64)
        dense = [pts[0]]
        for p, q in zip(pts[:-1], pts[1:]):
            n = max(2, int(np.hypot(*(q - p)) / 4))
            dense += [p + (q - p) * t for t in np.linspace(0, 1, n)[1:]]
        line = np.array(dense)
        wobble = np.cumsum(self.rng.normal(0, 0.35, line.shape), axis=0)
        wobble -= np.linspace(0, 1, len(line))[:, None] * wobble[-1]  # ends where it should
        line += wobble
        width = int(self.rng.integers(1, 4))
        ink = int(self.rng.integers(10, 60))
        cv2.polylines(self.page, [np.rint(line * 4).astype(np.int32)], False, ink, width, cv2.LINE_AA, shift=2)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360) -> None:
        t = np.radians(np.linspace(start, end, 40))
        self.stroke([(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t])

    def rgb(self) -> np.ndarray:
        return np.repeat(self.page[..., None], 3, axis=2)


def house() -> np.ndarray:
    pen = Pen(1)
    pen.stroke([(60, 230), (60, 140), (170, 140), (170, 230)])
    pen.stroke([(48, 145), (115, 80), (182, 145)])
    pen.stroke([(100, 230), (100, 180), (128, 180), (128, 230)])
    pen.stroke([(140, 160), (160, 160), (160, 178), (140, 178)], closed=True)
    pen.ellipse(215, 45, 20, 20)
    for a in range(0, 360, 45):
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        pen.stroke([(215 + 27 * c, 45 + 27 * s), (215 + 38 * c, 45 + 38 * s)])
    pen.stroke([(5, 232), (250, 228)])
    pen.stroke([(205, 230), (207, 175)])
    pen.ellipse(206, 160, 22, 24)
    return pen.rgb()


def face() -> np.ndarray:
    pen = Pen(2)
    pen.ellipse(128, 120, 70, 88)
    pen.ellipse(100, 105, 12, 7)
    pen.ellipse(156, 105, 12, 7)
    pen.ellipse(100, 105, 3, 3)
    pen.ellipse(156, 105, 3, 3)
    pen.stroke([(128, 112), (122, 145), (134, 147)])
    pen.ellipse(128, 165, 25, 10, 10, 170)
    for x in range(70, 190, 16):
        pen.stroke([(x, 55), (x + 10, 30 + (x % 3) * 4), (x + 22, 40)])
    pen.stroke([(95, 205), (80, 250)])
    pen.stroke([(161, 205), (176, 250)])
    return pen.rgb()


def hills() -> np.ndarray:
    pen = Pen(3)
    pen.stroke([(0, 150), (40, 120), (90, 135), (140, 95), (200, 130), (255, 110)])
    pen.stroke([(0, 190), (60, 175), (130, 185), (200, 170), (255, 180)])
    pen.stroke([(70, 250), (110, 205), (150, 200), (190, 250)])
    pen.stroke([(60, 252), (60, 200)])
    pen.stroke([(68, 252), (68, 200)])
    pen.ellipse(64, 180, 28, 30)
    pen.ellipse(190, 50, 18, 8)
    pen.ellipse(205, 45, 15, 9)
    pen.stroke([(20, 40), (30, 35), (40, 40)])
    pen.stroke([(45, 60), (55, 55), (65, 60)])
    return pen.rgb()


def coffee_lineart() -> np.ndarray:
    """The line art `translator pairs --kind lineart` makes of the held-out coffee photo."""
    rng = np.random.default_rng(0)
    return make_input(crop_square(load_photo("coffee"), SIZE, 0, rng), "lineart", rng=rng)


SKETCHES: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "house": (house, "hand-drawn style: a house"),
    "face": (face, "hand-drawn style: a face"),
    "hills": (hills, "hand-drawn style: hills, a tree"),
    "coffee-lineart": (coffee_lineart, "line art of a held-out photo"),
}


def _titled(rgb: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((26, rgb.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, rgb])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "weights" / "demo-sketch2photo.safetensors")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "sketches")
    args = p.parse_args(argv)
    tr = load_translator(args.model, InferenceOptions(device="cpu"))
    for name, (draw, caption) in SKETCHES.items():
        sketch = draw()
        output = translate_array(tr, sketch)
        gap = np.full((SIZE + 26, 8, 3), 255, np.uint8)
        side_by_side = np.hstack([_titled(sketch, caption), gap, _titled(output, tr.name)])
        print(imaging.write_image(args.out / f"{name}.png", side_by_side))
    return 0


if __name__ == "__main__":
    sys.exit(main())

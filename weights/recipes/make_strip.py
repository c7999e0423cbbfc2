"""The README's before/after strip: each sample photo, then what each shipped demo model makes of it.

    .venv/bin/python -m weights.recipes.make_strip [--out docs/demo-strip.png] [--height 200]

Rows are the photos in `samples/` (held out of training); columns are the photo, then each demo
model's output (CycleGAN models: A→B). Every image is translated at its native size through the
engine, then scaled to one row height for the strip, with the column titles written above.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from translator import imaging
from translator.inference import InferenceOptions, load_translator, translate_array

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("demo-day2night", "demo-photo2painting")


def _fit(rgb: np.ndarray, height: int) -> np.ndarray:
    w = round(rgb.shape[1] * height / rgb.shape[0])
    return cv2.resize(rgb, (w, height), interpolation=cv2.INTER_AREA)


def _title(text: str, width: int) -> np.ndarray:
    bar = np.full((28, width, 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def _row(cells: list[np.ndarray], widths: list[int], gap: int = 6) -> np.ndarray:
    """Cells side by side, each padded with white to its column's width, `gap` pixels apart."""
    out = []
    for cell, w in zip(cells, widths):
        out.append(np.pad(cell, ((0, 0), (0, w - cell.shape[1] + gap), (0, 0)), constant_values=255))
    return np.hstack(out)[:, :-gap]


def make_strip(samples: Path, weights: Path, height: int) -> np.ndarray:
    """Rows of (photo, each demo model's output) for every image in `samples`, with a title row."""
    translators = [load_translator(weights / f"{m}.safetensors", InferenceOptions(device="cpu")) for m in MODELS]
    grid = []
    for path in imaging.list_images(samples):
        rgb = imaging.read_image(path).rgb
        grid.append([_fit(rgb, height)] + [_fit(translate_array(tr, rgb), height) for tr in translators])
    widths = [max(row[i].shape[1] for row in grid) for i in range(len(grid[0]))]
    titles = [_title(t, w) for t, w in zip(["photo (held out of training)", *MODELS], widths)]
    rows = [_row(titles, widths)] + [_row(cells, widths) for cells in grid]
    gap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    return np.vstack([x for r in rows for x in (r, gap)][:-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "demo-strip.png")
    p.add_argument("--samples", type=Path, default=ROOT / "samples")
    p.add_argument("--weights", type=Path, default=ROOT / "weights")
    p.add_argument("--height", type=int, default=200)
    args = p.parse_args(argv)
    imaging.write_image(args.out, make_strip(args.samples, args.weights, args.height))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

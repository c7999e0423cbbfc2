"""Write `samples/`: the photos no demo model was trained on, for a first try of the app.

    .venv/bin/python -m weights.recipes.make_samples [--out samples]

They are the quality benchmark's held-out photos (`TEST_PHOTOS` in bench/quality/tasks.py:
scikit-image's chelsea, coffee and camera, scikit-learn's flower.jpg) at their native size, as
JPEG quality 92 (4:4:4 colour, the grey one as a one-channel JPEG). Rerunning writes the same
bytes (same Pillow build).
"""
from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from bench.quality.tasks import PHOTOS, TEST_PHOTOS, load_photo
from translator._fs import write_bytes_atomic

ROOT = Path(__file__).resolve().parents[2]
QUALITY = 92


def sample_image(name: str) -> Image.Image:
    """Held-out photo `name` as a Pillow image: RGB, or L for the grey photos."""
    rgb = load_photo(name)
    colour = PHOTOS[name][1]
    return Image.fromarray(rgb if colour else np.ascontiguousarray(rgb[..., 0]))


def write_samples(out: Path) -> list[Path]:
    """Write every held-out photo as `out/<name>.jpg`; return the paths, in `TEST_PHOTOS` order."""
    paths = []
    for name in TEST_PHOTOS:
        buf = io.BytesIO()
        sample_image(name).save(buf, format="JPEG", quality=QUALITY, subsampling=0)
        path = Path(out) / f"{name}.jpg"
        write_bytes_atomic(path, buf.getvalue())
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the held-out sample photos (samples/).")
    parser.add_argument("--out", type=Path, default=ROOT / "samples", help="folder to write (default samples/)")
    args = parser.parse_args(argv)
    for path in write_samples(args.out):
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measuring seams: how much a tiled output steps across the tiles' hand-over lines.

Used by the tiling tests (tests/engine/test_tiling.py) and the 4096² seam benchmark
(bench/seams_4096.py); the engine itself never measures seams, so this lives here, not in
`translator.tiling` (whose `tile_boundaries` says where the hand-over lines are).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def seam_energy(
    img: np.ndarray, boundaries_x: Sequence[int], boundaries_y: Sequence[int], *, width: int = 1, segment: int = 1
) -> float:
    """How much an image steps across given lines, relative to how much it steps across others.

    `img` is (H, W) or (H, W, C). The step across the vertical line at column b, in row r, is
    mean(img[r, b:b+width]) - mean(img[r, b-width:b]) (per channel); rows are grouped into runs of
    `segment` rows whose steps are averaged *with their sign* before taking the absolute value;
    likewise for horizontal lines at the rows in `boundaries_y`. The result is the mean of these
    absolute steps over the given lines divided by their mean over all other lines (those at
    least `2·width` away from every given line, so that their windows miss the given lines'
    windows). Near 1 when the given lines are not special.

    A seam is a step that keeps its sign along a line; image edges that cross the line change
    sign and average out over a long segment. With feathered tiles a difference between two
    tiles is spread over the ramp, so a `width` of about a quarter of the overlap sees it whole.
    """
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    if width < 1 or segment < 1:
        raise ValueError("width and segment must be >= 1")

    def steps(arr: np.ndarray, lines: Sequence[int]) -> tuple[list[float], list[float]]:
        # arr (N, M, C): steps across the lines between index b-1 and b of axis 0, segmented along axis 1
        n, m = arr.shape[:2]
        c = np.concatenate([np.zeros((1, *arr.shape[1:])), np.cumsum(arr, axis=0)])
        b = np.arange(width, n - width + 1)
        step = ((c[b + width] - c[b]) - (c[b] - c[b - width])) / width  # (len(b), M, C), signed
        seg = min(segment, m)
        k = m // seg
        step = step[:, : k * seg].reshape(len(b), k, seg, -1).mean(axis=2)
        per_line = np.abs(step).mean(axis=(1, 2))
        wanted = set(lines)
        near = np.zeros(len(b), dtype=bool)
        for line in lines:
            near |= np.abs(b - line) < 2 * width
        at = [float(v) for v, p in zip(per_line, b) if p in wanted]
        return at, [float(v) for v in per_line[~near]]

    at_x, other_x = steps(a.transpose(1, 0, 2), boundaries_x)
    at_y, other_y = steps(a, boundaries_y)
    at, other = at_x + at_y, other_x + other_y
    if not at:
        raise ValueError(f"no boundary lies at least {width} px (the width) inside the image")
    if not other:
        raise ValueError("no line away from the boundaries to compare with")
    return float(np.mean(at) / np.mean(other))

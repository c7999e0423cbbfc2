"""A 4096×4096 photo through a tiled InstanceNorm generator: are there seams?

Builds a 4096² mosaic of real photos (scikit-image), runs a small CycleGAN-style ResNet
(InstanceNorm, base_filters 8, weights re-initialised with a wider spread so the output has
structure) once untiled and once with 1024-px tiles in each statistics mode, and reports for each
the seam energy at the tile hand-over lines (`bench.seams.seam_energy`: the mean step
across those lines over the mean step across all other lines; ~1 = no seam) and the mean
difference from the untiled output in grey levels. Writes the figures to stdout as a table.

    .venv/bin/python bench/seams_4096.py
"""
from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from skimage import data

from translator import imaging
from translator.networks import GeneratorSpec, build_generator
from bench.seams import seam_energy
from translator.tiling import run_tiled, tile_boundaries

SIZE, TILE = 4096, 1024


def mosaic() -> np.ndarray:
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    cells = [np.asarray(Image.fromarray(p).resize((SIZE // 2, SIZE // 2), Image.Resampling.BICUBIC)) for p in photos]
    return np.vstack([np.hstack(cells[:2]), np.hstack(cells[2:])])


def main() -> None:
    torch.manual_seed(0)
    spec = GeneratorSpec("resnet_6blocks", 8, "instance", False)
    net = build_generator(spec, seed=0).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.1, generator=g)
    x = imaging.to_tensor(mosaic())
    overlap = 64
    bx, by = tile_boundaries(SIZE, SIZE, TILE, overlap, align=4)
    rows = []
    with torch.inference_mode():
        t = time.perf_counter()
        whole = imaging.to_uint8(net(x))
        rows.append(("untiled", time.perf_counter() - t, whole))
        for label, kwargs in [("tiled, exact statistics", {}), ("tiled, fast statistics", {"refine_passes": 0}),
                              ("tiled, per-tile statistics (naive)", {"statistics": "per_tile"})]:
            t = time.perf_counter()
            y = imaging.to_uint8(run_tiled(net, x, tile=TILE, overlap=overlap, multiple=4, **kwargs))
            rows.append((label, time.perf_counter() - t, y))
    print(f"{SIZE}x{SIZE} mosaic, resnet_6blocks ngf 8 InstanceNorm, tiles {TILE} overlap {overlap}")
    print("| run | seconds | seam energy | mean diff vs untiled (grey levels) |")
    print("|---|---|---|---|")
    for label, secs, img in rows:
        seams = seam_energy(img, bx, by, width=overlap // 4, segment=16)
        diff = np.abs(img.astype(int) - whole.astype(int)).mean()
        print(f"| {label} | {secs:.1f} | {seams:.3f} | {diff:.2f} |")


if __name__ == "__main__":
    main()

"""Seconds for KID + FID of 100 translated pictures against 100 targets at 256² (issue 30's goal:
≤ 15 s on the CPU), the feature network's load measured apart.

    .venv/bin/python -m bench.realism [--images 100] [--side 256] [--device cpu] [--runs 2]

The folders are real photos (scikit-image and scikit-learn's samples): 256² crops as targets,
the same crops blurred as the "translated" side, written as PNG files, so the time includes
reading and decoding them, as `translator eval` and `compare_folders` do. The first run includes
TorchScript's first pass over the network; later runs are warm. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from bench.common import machine
from translator import imaging
from translator.jobs import run_job
from translator.realism import FeatureNet, features_of_folder, scores_of_features


def photos() -> list[np.ndarray]:
    from skimage import data
    from sklearn.datasets import load_sample_image

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
            load_sample_image("china.jpg"), load_sample_image("flower.jpg")]


def write_folders(root: Path, n: int, side: int) -> tuple[Path, Path]:
    """`n` target crops and their blurred copies, PNG, in root/target and root/translated."""
    target, translated = root / "target", root / "translated"
    target.mkdir()
    translated.mkdir()
    rng = np.random.default_rng(0)
    pics = photos()
    for i in range(n):
        pic = pics[i % len(pics)]
        h, w = pic.shape[:2]
        s = int(rng.integers(side // 2, min(h, w) + 1))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        crop = Image.fromarray(pic[y:y + s, x:x + s]).resize((side, side), Image.Resampling.BICUBIC)
        imaging.write_image(target / f"{i:03d}.png", np.asarray(crop))
        imaging.write_image(translated / f"{i:03d}.png", np.asarray(crop.filter(ImageFilter.GaussianBlur(1.5))))
    return target, translated


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=100, help="pictures per folder (default 100)")
    parser.add_argument("--side", type=int, default=256, help="their side in pixels (default 256)")
    parser.add_argument("--device", default="cpu", help="device of the feature network (default cpu)")
    parser.add_argument("--precision", default="auto", help="auto (fp32 for features), fp32, bf16, fp16")
    parser.add_argument("--runs", type=int, default=2, help="runs over the folders; the first one is cold (default 2)")
    args = parser.parse_args(argv)

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        target, translated = write_folders(Path(tmp), args.images, args.side)
        t = time.perf_counter()
        net = FeatureNet.load(args.device, args.precision)
        load_s = time.perf_counter() - t
        print(f"feature network load: {load_s:.2f} s ({net.device}, {net.precision})")
        print(f"| run | features of {2 * args.images} pictures at {args.side}² | KID + FID | total |")
        print("|---|---|---|---|")
        for run in range(args.runs):
            t0 = time.perf_counter()
            real = run_job(features_of_folder(target, net))
            fake = run_job(features_of_folder(translated, net))
            t1 = time.perf_counter()
            scores = scores_of_features(real, fake)
            t2 = time.perf_counter()
            label = "cold (first pass)" if run == 0 else "warm"
            print(f"| {run + 1}, {label} | {t1 - t0:.1f} s | {t2 - t1:.2f} s | {t2 - t0:.1f} s |", flush=True)
        spread = f" ± {scores.kid_std:.4f}" if scores.kid_std > 0 else " (whole folders: no spread)"
        print(f"KID {scores.kid_mean:.4f}{spread}, FID {scores.fid:.1f} ({scores.n_fake} blurred crops against {scores.n_real} crops)")


if __name__ == "__main__":
    main()

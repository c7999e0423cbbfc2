"""Seconds per training step at 256×256: pix2pix (unet_256) and CycleGAN (resnet_9blocks).

Runs the real training job (`translator.training.train`, data loading included) on a folder of
photos from scikit-image, for batch sizes 1 and 4 and each precision given, and prints the
median seconds per step over the measured steps, after warm-up steps that are not counted.

    .venv/bin/python bench/train_speed.py [--precisions fp32 bf16] [--steps 3] [--warmup 1]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from translator.devices import resolve_device
from translator.training import TrainConfig, TrainProgress, train


def make_dataset(root: Path) -> Path:
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.immunohistochemistry()]
    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
    for i, p in enumerate(photos * 2):
        img = Image.fromarray(np.roll(p, 37 * i, axis=1)).resize((286, 286))
        img.save(root / "A" / f"{i}.png")
        img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "B" / f"{i}.png")
    return root


def measure(kind: str, batch: int, precision: str, data_dir: Path, out: Path, steps: int, warmup: int) -> float:
    cfg = TrainConfig(kind, data_dir, out, steps=warmup + steps, batch_size=batch, precision=precision,  # type: ignore[arg-type]
                      val_every=10_000, sample_every=10_000, checkpoint_every=10_000, max_val=1)
    times = []
    job = train(cfg)
    try:
        while True:
            ev = next(job)
            assert isinstance(ev, TrainProgress)
            times.append(ev.seconds)
    except StopIteration:
        pass
    return statistics.median(times[warmup:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    device = resolve_device("auto")
    print(f"device {device}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads; median of {args.steps} steps after {args.warmup} warm-up")
    print("| model | batch | precision | s/step | s/image |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = make_dataset(Path(tmp) / "data")
        for kind in ("pix2pix", "cyclegan"):
            for batch in (1, 4):
                for precision in args.precisions:
                    s = measure(kind, batch, precision, data_dir, Path(tmp) / f"{kind}{batch}{precision}", args.steps, args.warmup)
                    arch = "unet_256" if kind == "pix2pix" else "resnet_9blocks"
                    print(f"| {kind} {arch} | {batch} | {precision} | {s:.2f} | {s / batch:.2f} |", flush=True)


if __name__ == "__main__":
    main()

"""Whole commands as a user runs them: start-up, model loading, and folder jobs in each precision.

Every figure is a fresh process's wall time (Python start, imports, model load and the work), as
a user waits for it. The folder jobs run interleaved (reference, fp32, auto, reference, …) for
`--rounds` rounds and each figure is the median, so a machine whose load drifts treats every row
alike; the goal ratios come from those medians.

1. Start-up: `python -c "import torch"`; one 451×300 photo through `translator translate`
   (unet_256 ngf 64); loading that model (`load_model`, in-process, median of 5).
2. A 50-image pix2pix folder job (unet_256 ngf 64, 256² photos): the reference's `test.py` loop
   as a whole process (`bench.reference_loops.test_loop` after building the net the reference's
   way: initialised, then the checkpoint loaded), and `translator translate` in fp32 and `auto`.
   `--before DIR` adds the same two jobs with DIR (a copy of an older tree) first on PYTHONPATH.
3. Folder jobs of 50 photos at 256² and at 1024² (unet_256 ngf 64): `--precision auto` against
   fp32, with the PSNR of each auto output against its fp32 output (minimum and mean).
4. The goal ratios of issue 29: fp32 and auto against the reference (≥ 2×, ≥ 3×), auto against
   fp32 at each size (≥ 1.5×).

    .venv-engine/bin/python -m bench.whole_jobs [--rounds 3] [--sizes 256 1024] [--before DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import machine, photo
from translator import imaging
from translator.checkpoint import ModelCard, build_model, load_model, save_model
from translator.metrics import psnr
from translator.networks import GeneratorSpec
from translator.reference import export_reference

N = 50
_REFERENCE = """
import sys, time
from pathlib import Path
import torch
from bench.reference_loops import PIX2PIX_G, _init, test_loop
from translator.networks import build_generator
net = _init(build_generator(PIX2PIX_G))  # as the reference's define_G: built and initialised, then loaded
net.load_state_dict(torch.load(sys.argv[1], weights_only=True))
files = sorted(Path(sys.argv[2]).glob("*.png"))
test_loop(net.eval(), files, Path(sys.argv[3]), aligned=True)
"""


def wall(cmd: list[str], tree: Path | None = None) -> float:
    """Seconds `cmd` runs; `tree`: with that copy of the code (its folder the working directory and
    first on PYTHONPATH), else this one."""
    env = {**os.environ, "PYTHONPATH": str(tree)} if tree else None
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tree)
    return time.perf_counter() - t0


def translate(model: Path, src: Path, out: Path, precision: str, tree: Path | None = None) -> float:
    return wall([sys.executable, "-m", "translator", "translate", str(src), "-o", str(out), "-m", str(model), "-q",
                 "--precision", precision, "--overwrite"], tree)


def folder(root: Path, size: int, aligned: bool = False) -> Path:
    root.mkdir(parents=True)
    for i in range(N):
        a = photo(i, (size, size))
        Image.fromarray(np.concatenate([a, photo(i + 100, (size, size))], axis=1) if aligned else a).save(root / f"{i:03d}.png")
    return root


def interleaved(jobs: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each job once per round, in turn; all the seconds of each."""
    secs: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            secs[name].append(job())
    return secs


def spread(s: list[float]) -> str:
    return f"{statistics.median(s):.1f} ({min(s):.1f}–{max(s):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--before", type=Path, help="a copy of an older tree: its fp32 and auto jobs at 256² join the rounds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        card = ModelCard(name="p2p", kind="pix2pix", generators={"g": GeneratorSpec("unet_256", 64, "batch", True)},
                         discriminators={}, task="bench", image_size=256)
        model = save_model(build_model(card, seed=0), tmp / "p2p.safetensors")
        pth = export_reference(load_model(model), tmp / "ref")[0]

        one = tmp / "one"
        one.mkdir()
        Image.fromarray(photo(1, (451, 300))).save(one / "cat.png")
        translate(model, one / "cat.png", tmp / "one-out", "auto")  # the bf16 check's first run, not timed
        torch_s = statistics.median(wall([sys.executable, "-c", "import torch"]) for _ in range(3))
        one_s = statistics.median(translate(model, one / "cat.png", tmp / "one-out", "auto") for i in range(3))
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            load_model(model)
            loads.append(time.perf_counter() - t0)
        print(f"\n{machine()}\n")
        print("| what | seconds |\n|---|---|")
        print(f"| `python -c \"import torch\"` | {torch_s:.2f} |")
        print(f"| one photo through `translator translate` (unet_256 ngf 64, auto) | {one_s:.2f} (+{one_s - torch_s:.2f}) |")
        print(f"| `load_model` of unet_256 ngf 64, median of 5 | {statistics.median(loads):.3f} |", flush=True)

        aligned = folder(tmp / "ab", 256, aligned=True)
        srcs = {size: folder(tmp / f"plain{size}", size) for size in args.sizes}
        outs = {(size, p): tmp / f"out{size}-{p}" for size in args.sizes for p in ("fp32", "auto")}
        jobs: dict[str, Callable[[], float]] = {
            "reference": lambda: wall([sys.executable, "-c", _REFERENCE, str(pth), str(aligned), str(tmp / "ref-out")]),
        }
        for size in args.sizes:
            for p in ("fp32", "auto"):
                jobs[f"{p} {size}"] = lambda size=size, p=p: translate(model, srcs[size], outs[size, p], p)  # type: ignore[misc]
        if args.before is not None and 256 in srcs:
            for p in ("fp32", "auto"):
                jobs[f"before {p} 256"] = lambda p=p: translate(model, srcs[256], tmp / f"before-{p}", p, args.before.resolve())  # type: ignore[misc]
        secs = interleaved(jobs, args.rounds)
        med = {name: statistics.median(s) for name, s in secs.items()}
        ref_s = med["reference"]

        print(f"\n{args.rounds} rounds, interleaved; median seconds (lowest–highest)\n")
        print(f"| {N} images, 256², whole process | seconds | vs the reference |\n|---|---|---|")
        rows = [("reference `test.py` loop", "reference")]
        if 256 in srcs:
            rows += [("`translator translate --precision fp32`", "fp32 256"), ("`translator translate` (auto)", "auto 256")]
        if args.before is not None and 256 in srcs:
            rows += [(f"before ({args.before}): fp32", "before fp32 256"), (f"before ({args.before}): auto", "before auto 256")]
        for label, name in rows:
            print(f"| {label} | {spread(secs[name])} | {ref_s / med[name]:.2f}× |", flush=True)

        print(f"\n| {N} photos | fp32 s | auto s | auto speed-up | PSNR auto vs fp32, min / mean |\n|---|---|---|---|---|")
        for size in args.sizes:
            db = [psnr(imaging.read_image(outs[size, "auto"] / f.name).rgb, imaging.read_image(outs[size, "fp32"] / f.name).rgb)
                  for f in sorted(srcs[size].iterdir())]
            print(f"| {size}² | {spread(secs[f'fp32 {size}'])} | {spread(secs[f'auto {size}'])} | "
                  f"{med[f'fp32 {size}'] / med[f'auto {size}']:.2f}× | {min(db):.1f} / {statistics.mean(db):.1f} dB |", flush=True)

        print("\n| goal (issue 29) | measured | goal |\n|---|---|---|")
        if 256 in srcs:
            print(f"| fp32 against the reference, 256² | {ref_s / med['fp32 256']:.2f}× | ≥ 2× |")
            print(f"| auto against the reference, 256² | {ref_s / med['auto 256']:.2f}× | ≥ 3× |")
        for size in args.sizes:
            print(f"| auto against fp32, {size}² | {med[f'fp32 {size}'] / med[f'auto {size}']:.2f}× | ≥ 1.5× |")


if __name__ == "__main__":
    main()

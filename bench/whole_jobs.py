"""Whole commands as a user runs them: start-up, model loading, and folder jobs in each precision.

Every figure is a fresh process's wall time (Python start, imports, model load and the work), as
a user waits for it; the rows of one table run side by side in one sitting.

1. Start-up: `python -c "import torch"`; one 451×300 photo through `translator translate`
   (unet_256 ngf 64); loading that model (`load_model`, in-process, median of 5).
2. A 50-image pix2pix folder job (unet_256 ngf 64, 256² photos): the reference's `test.py` loop
   as a whole process (`bench.reference_loops.test_loop` after building the net the reference's
   way: initialised, then the checkpoint loaded), and `translator translate` in fp32 and `auto`.
3. Folder jobs of 50 photos at 256² and at 1024² (unet_256 ngf 64): `--precision auto` against
   fp32, with the PSNR of each auto output against its fp32 output (minimum and mean).

    .venv-engine/bin/python -m bench.whole_jobs
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
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


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def translate(model: Path, src: Path, out: Path, precision: str) -> float:
    return wall([sys.executable, "-m", "translator", "translate", str(src), "-o", str(out), "-m", str(model), "-q",
                 "--precision", precision])


def folder(root: Path, size: int, aligned: bool = False) -> Path:
    root.mkdir(parents=True)
    for i in range(N):
        a = photo(i, (size, size))
        Image.fromarray(np.concatenate([a, photo(i + 100, (size, size))], axis=1) if aligned else a).save(root / f"{i:03d}.png")
    return root


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        card = ModelCard(name="p2p", kind="pix2pix", generators={"g": GeneratorSpec("unet_256", 64, "batch", True)},
                         discriminators={}, task="bench", image_size=256)
        model = save_model(build_model(card, seed=0), tmp / "p2p.safetensors")
        pth = export_reference(load_model(model), tmp / "ref")[0]

        one = tmp / "one"
        one.mkdir()
        Image.fromarray(photo(1, (451, 300))).save(one / "cat.png")
        torch_s = statistics.median(wall([sys.executable, "-c", "import torch"]) for _ in range(3))
        one_s = statistics.median(translate(model, one / "cat.png", tmp / f"one-out{i}", "auto") for i in range(3))
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

        aligned, plain = folder(tmp / "ab", 256, aligned=True), folder(tmp / "plain256", 256)
        ref_s = wall([sys.executable, "-c", _REFERENCE, str(pth), str(aligned), str(tmp / "ref-out")])
        fp32_s = translate(model, plain, tmp / "out-fp32", "fp32")
        auto_s = translate(model, plain, tmp / "out-auto", "auto")
        print(f"\n| {N} images, 256², whole process | seconds | vs reference |\n|---|---|---|")
        for name, s in (("reference `test.py` loop", ref_s), ("`translator translate --precision fp32`", fp32_s),
                        ("`translator translate` (auto)", auto_s)):
            print(f"| {name} | {s:.1f} | {ref_s / s:.2f}× |", flush=True)

        print(f"\n| {N} photos | fp32 s | auto s | auto speed-up | PSNR auto vs fp32, min / mean |\n|---|---|---|---|---|")
        for size in (256, 1024):
            src = plain if size == 256 else folder(tmp / f"plain{size}", size)
            outs = {p: tmp / f"cmp{size}-{p}" for p in ("fp32", "auto")}
            secs = {p: translate(model, src, outs[p], p) for p in ("fp32", "auto")}
            db = [psnr(imaging.read_image(outs["auto"] / f.name).rgb, imaging.read_image(outs["fp32"] / f.name).rgb)
                  for f in sorted(src.iterdir())]
            print(f"| {size}² | {secs['fp32']:.1f} | {secs['auto']:.1f} | {secs['fp32'] / secs['auto']:.2f}× | "
                  f"{min(db):.1f} / {statistics.mean(db):.1f} dB |", flush=True)


if __name__ == "__main__":
    main()

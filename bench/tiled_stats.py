"""Exact whole-image statistics on a tiled image: the segment path against layer-by-layer refinement.

A large photo (scikit-image's astronaut, upscaled) through InstanceNorm generators under a memory
budget small enough that the image is tiled: the shipped `demo-photo2painting` and a
resnet_9blocks ngf 64 CycleGAN generator with random weights. Each run is a fresh process
(`python -m bench.tiled_stats child …`), so its peak RSS (VmHWM: Python, torch and the model
included) is its own; seconds time `run_tiled` (or the untiled forward) alone. The untiled
forward runs where it fits in `--untiled-max-gib` (its estimated activations). Prints a
Markdown table with the largest difference of each output from the untiled (else the segment)
output, in grey levels.

    .venv/bin/python -m bench.tiled_stats                              # 3000², all of it (slow: refinement)
    .venv/bin/python -m bench.tiled_stats --models demo --size 2000
    .venv/bin/python -m bench.tiled_stats --models resnet9 --paths segments untiled
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import gib, machine, photo, run_child

MODELS = {"demo": "weights/demo-photo2painting.safetensors", "resnet9": "resnet_9blocks ngf 64, random weights"}
PATHS = ("segments", "refine", "untiled")


def child(model: str, path: str, size: int, budget_mb: int, out: str) -> None:
    """One run in this process: prints seconds= and peak_rss_bytes=, writes the output (uint8)."""
    import torch

    from bench.children import report_peak_rss
    from translator import imaging
    from translator.checkpoint import load_model
    from translator.networks import GeneratorSpec, build_generator
    from translator.tiling import choose_tile, default_overlap, run_tiled

    if model == "demo":
        net, spec = load_model(Path(MODELS["demo"])).generator(None)
    else:
        spec = GeneratorSpec("resnet_9blocks", 64, "instance", False)
        net = build_generator(spec, seed=0)
    net = net.eval()
    x = imaging.to_tensor(photo(0, (size, size)))  # sides multiples of 4: no padding needed
    budget = budget_mb * 2**20
    tile = choose_tile(spec, size, size, budget)
    with torch.inference_mode():
        t0 = time.perf_counter()
        if path == "untiled":
            y = net(x)
        else:
            assert tile is not None, "the budget is large enough for the whole image: nothing to tile"
            y = run_tiled(net, x, tile=tile, overlap=default_overlap(spec), multiple=spec.multiple, budget=budget,
                          method="segments" if path == "segments" else "refine")
        print(f"seconds={time.perf_counter() - t0:.2f} tile={tile}", flush=True)
    np.save(out, imaging.to_uint8(y))
    report_peak_rss()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=3000, help="image side in pixels (a multiple of 4)")
    ap.add_argument("--budget-mb", type=int, default=640, help="the memory budget that forces tiling")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    ap.add_argument("--untiled-max-gib", type=float, default=6.0, help="skip the untiled run above this estimate")
    args = ap.parse_args()

    from translator.checkpoint import load_model
    from translator.networks import GeneratorSpec
    from translator.tiling import estimate_bytes_per_pixel

    print(machine())
    print(f"{args.size}×{args.size} photo, memory budget {args.budget_mb} MiB, fp32, one fresh process per run\n")
    print("| model | path | seconds | peak RSS | max grey-level difference |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            spec = load_model(Path(MODELS["demo"])).generator(None)[1] if model == "demo" else GeneratorSpec("resnet_9blocks", 64, "instance", False)
            outputs: dict[str, np.ndarray] = {}
            for path in sorted(args.paths, key=lambda p: p != "untiled"):  # untiled first: the reference
                if path == "untiled" and estimate_bytes_per_pixel(spec) * args.size**2 > args.untiled_max_gib * 2**30:
                    print(f"| {model} | {path} | does not fit in {args.untiled_max_gib} GiB | | |", flush=True)
                    continue
                out = str(Path(tmp) / f"{model}-{path}.npy")
                stdout, _wall, rss = run_child(["-m", "bench.tiled_stats", "child", model, path, str(args.size),
                                                str(args.budget_mb), out], timeout=4 * 3600)
                seconds = stdout.split("seconds=")[1].split()[0]
                outputs[path] = np.load(out).astype(np.int16)
                reference = outputs.get("untiled", outputs.get("segments"))
                diff = "" if reference is None or reference is outputs[path] else f"{int(np.abs(outputs[path] - reference).max())}"
                print(f"| {model} | {path} | {seconds} | {gib(rss)} | {diff} |", flush=True)

if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        main()

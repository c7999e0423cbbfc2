"""One Adam step over each reference generator's weights: torch's default loop against the fused
kernel the trainer uses (`translator/training.py: _adam`), measured side by side.

    .venv/bin/python -m bench.optimizer

Prints a Markdown table: the median over three alternating rounds of 3 steps (each round after 2
warm-up steps).
"""
from __future__ import annotations

import statistics
import time

import torch

from bench.common import machine
from translator.networks import GeneratorSpec, build_generator

SPECS = (GeneratorSpec("unet_256", 64, "batch", True), GeneratorSpec("resnet_9blocks", 64, "instance", False))


def step_seconds(params: list[torch.nn.Parameter], fused: bool, steps: int = 9) -> list[float]:
    opt = torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999), fused=fused)
    out = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.step()
        out.append(time.perf_counter() - t)
    return out[2:]


def main() -> None:
    print(machine())
    print("| generator | parameters | Adam, default loop | Adam, fused | speed-up |")
    print("|---|---|---|---|---|")
    for spec in SPECS:
        params = list(build_generator(spec, seed=0).parameters())
        for p in params:
            p.grad = torch.randn_like(p)
        loop, fused = [], []
        for _ in range(3):  # alternate, so load on the machine hits both alike
            loop += step_seconds(params, fused=False, steps=5)
            fused += step_seconds(params, fused=True, steps=5)
        a, b = statistics.median(loop), statistics.median(fused)
        n = sum(p.numel() for p in params) / 1e6
        print(f"| {spec.arch} | {n:.1f} M | {a * 1000:.0f} ms | {b * 1000:.0f} ms | {a / b:.1f}× |")


if __name__ == "__main__":
    main()

"""Shared pieces of the speed benchmarks: the machine's description, repeated timing, peak memory
of a child process, test photos and models."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine() -> str:
    """One line: CPU, cores, relevant vector extensions, GPU, versions, threads, date."""
    flags = cpu_flags()
    ext = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_name()}, {os.cpu_count()} cores ({', '.join(ext) or 'no AVX'}), {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; {date.today().isoformat()}")


@dataclass(frozen=True)
class Timing:
    """Median and spread of repeated measurements, in seconds."""

    median: float
    low: float
    high: float
    n: int


def timed(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1) -> Timing:
    """Run `fn` `warmup` times untimed, then `repeats` times timed."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing(statistics.median(samples), min(samples), max(samples), len(samples))


def run_child(args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 1800) -> tuple[str, float, int]:
    """Run `python args…` as a child process; returns (stdout, wall seconds, peak RSS bytes)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    wall = time.perf_counter() - t0
    # ru_maxrss of this one child: os.wait4 would race with communicate(), so read it from /proc
    # indirectly: the child reports its own peak (VmHWM) on its last stdout line when asked to.
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-2000:]}")
    return out, wall, _reported_peak(out)


def _reported_peak(out: str) -> int:
    for line in reversed(out.splitlines()):
        if line.startswith("peak_rss_bytes="):
            return int(line.split("=", 1)[1])
    return 0


def photo(i: int, size: tuple[int, int]) -> np.ndarray:
    """A real photo (scikit-image), shifted by `i` so each file differs, resized to (w, h)."""
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    a = np.roll(photos[i % len(photos)], 37 * i, axis=1)
    return np.asarray(Image.fromarray(a).resize(size, Image.Resampling.BICUBIC))


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"

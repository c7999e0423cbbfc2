"""Thread settings for a folder job: torch's compute threads against the decode/encode workers,
measured side by side on the pix2pix folder of `bench.perf folder` (24 photos of 256², fp32, batch 4).

    .venv/bin/python -m bench.threads

Prints a Markdown table: images/s, median of 3 runs per setting, settings alternated.
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from bench.common import machine
from bench.perf import _folder_job, _write_folder, pix2pix_model
from translator.inference import InferenceOptions

SETTINGS = ((2, 1), (2, 2), (1, 1), (1, 2))  # (torch threads, decode/encode workers)


def main() -> None:
    print(machine())
    model = pix2pix_model()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        files = _write_folder(tmp / "in", 24, (256, 256), False)
        _folder_job(model, files[:4], tmp / "warm", InferenceOptions(device="cpu", batch_size=4))
        seconds: dict[tuple[int, int], list[float]] = {s: [] for s in SETTINGS}
        for _ in range(3):
            for threads, workers in SETTINGS:
                torch.set_num_threads(threads)
                opts = InferenceOptions(device="cpu", batch_size=4, workers=workers)
                seconds[(threads, workers)].append(_folder_job(model, files, tmp / "out", opts))
    print("| torch threads | decode/encode workers | images/s |")
    print("|---|---|---|")
    for (threads, workers), runs in seconds.items():
        print(f"| {threads} | {workers} | {len(files) / statistics.median(runs):.2f} |")


if __name__ == "__main__":
    main()

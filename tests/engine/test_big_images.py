"""Big photos: the memory budget follows the memory available, `--memory-budget` still caps it,
and the log says which way each image went."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translator.checkpoint import ModelCard, build_model, save_model
from translator.inference import (BUDGET_SHARE, InferenceOptions, available_memory, load_translator, memory_budget,
                                  translate_array)
from translator.networks import DiscriminatorSpec, GeneratorSpec


def test_the_default_budget_is_a_share_of_the_memory_available_now() -> None:
    cpu = torch.device("cpu")
    avail = available_memory(cpu)
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert 0 < avail <= int(meminfo["MemTotal"].split()[0]) * 1024
    assert memory_budget(cpu) == pytest.approx(avail * BUDGET_SHARE, rel=0.2)  # memory moves between the reads
    assert memory_budget(cpu, 640) == 640 * 2**20  # --memory-budget caps it, whatever is free


def test_the_log_says_whether_an_image_went_whole_or_in_tiles_and_why(tiny_cyclegan: Path, photos: dict[str, np.ndarray],
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    rgb = photos["astronaut"][:256, :256]
    with caplog.at_level(logging.INFO, logger="translator.inference"):
        translate_array(load_translator(tiny_cyclegan, InferenceOptions(device="cpu")), rgb)
        whole = [r.getMessage() for r in caplog.records]
        caplog.clear()
        translate_array(load_translator(tiny_cyclegan, InferenceOptions(device="cpu", memory_budget_mb=1)), rgb)
        tiled = [r.getMessage() for r in caplog.records]
    assert any("256×256" in m and "whole, in one pass" in m and "half the memory available" in m for m in whole), whole
    assert any("in tiles of" in m and "over the budget of 1 MiB" in m and "--memory-budget" in m
               and "exact whole-image statistics" in m for m in tiled), tiled


@pytest.mark.slow
def test_a_4096_pix2pix_stays_under_1_5_gib_with_a_small_budget(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    """The full-size pix2pix (unet_256, ngf 64) on a 4096² photo through the command line, with
    `--memory-budget 640`: the whole process's peak RSS (Python, torch, the model, the image)."""
    card = ModelCard(name="p2p-64", kind="pix2pix", generators={"g": GeneratorSpec("unet_256", 64, "batch", True)},
                     discriminators={}, task="test", image_size=256)
    model = save_model(build_model(card, seed=0), tmp_path / "p2p.safetensors")
    src = tmp_path / "big.png"
    Image.fromarray(photos["coffee"]).resize((4096, 4096), Image.Resampling.BICUBIC).save(src)
    out = tmp_path / "out"
    # A parent that waits only for this child: its RUSAGE_CHILDREN peak is the child's.
    probe = ("import resource, subprocess, sys; "
             "rc = subprocess.run(sys.argv[1:]).returncode; "
             "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "translator", "translate", str(src), "-o", str(out),
           "-m", str(model), "--memory-budget", "640", "--precision", "fp32", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    rc, peak_kib = (int(v) for v in done.stdout.split()[-2:])
    assert rc == 0, done.stderr
    assert Image.open(out / "big.png").size == (4096, 4096)
    assert peak_kib * 1024 <= 1.5 * 2**30, f"peak RSS {peak_kib / 2**20:.2f} GiB"

"""Big photos: the memory budget follows the memory available, `--memory-budget` still caps it,
and the log says which way each image went."""
from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translator import imaging, inference
from translator.checkpoint import ModelCard, build_model, save_model
from translator.cli import ProgressBar
from translator.errors import JobCancelled
from translator.inference import (BUDGET_SHARE, InferenceOptions, available_memory, load_translator, memory_budget,
                                  plan_outputs, translate_array, translate_files)
from translator.jobs import CancelToken, run_job
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


@pytest.fixture()
def slow_model(tmp_path: Path) -> Path:
    """A CycleGAN-style resnet (InstanceNorm) big enough that a 1500² image takes a while on a CPU."""
    card = ModelCard(name="slow", kind="pix2pix", generators={"g": GeneratorSpec("resnet_6blocks", 16, "instance", False)},
                     discriminators={}, task="test", image_size=256)
    return save_model(build_model(card, seed=0), tmp_path / "slow.safetensors")


def _one_big_photo(tmp_path: Path, photos: dict[str, np.ndarray], side: int = 1500) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photos["chelsea"]).resize((side, side), Image.Resampling.BICUBIC).save(src / "big.png")
    return src


def test_a_folder_job_reports_progress_inside_a_long_image(tmp_path: Path, slow_model: Path, photos: dict[str, np.ndarray],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "INSIDE_AFTER_S", 0.0)  # report from the start (a slow machine need not be waited for)
    monkeypatch.setattr(inference, "INSIDE_EVERY_S", 0.0)
    src = _one_big_photo(tmp_path, photos)
    tr = load_translator(slow_model, InferenceOptions(device="cpu", precision="fp32"))
    events = list(translate_files(tr, plan_outputs([src], tmp_path / "out")))
    inside = [e for e in events if e.inside is not None]
    assert len(inside) >= 5, events  # one per few convolutions at least
    assert all(e.done == 0 and e.result is None and e.item == src / "big.png" for e in inside)
    fractions = [e.inside for e in inside if e.inside is not None]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] <= 1
    assert any(e.eta_s is not None for e in inside)  # an ETA before the only image is done
    assert events[-1].result is not None and events[-1].result.status == "written"
    bar = ProgressBar(io.StringIO())
    assert bar.detail(inside[len(inside) // 2]).startswith("big.png ") and bar.detail(inside[0]).endswith("%")


def test_cancel_inside_one_long_image_stops_at_the_next_layer(tmp_path: Path, slow_model: Path,
                                                               photos: dict[str, np.ndarray],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """No tiles here (the image fits the budget): the one pass stops at the next convolution, far
    sooner than the pass would take (compared as a ratio with a full pass timed in this test)."""
    monkeypatch.setattr(inference, "INSIDE_AFTER_S", 0.0)
    monkeypatch.setattr(inference, "INSIDE_EVERY_S", 0.0)
    src = _one_big_photo(tmp_path, photos)
    tr = load_translator(slow_model, InferenceOptions(device="cpu", precision="fp32"))
    t0 = time.perf_counter()
    translate_array(tr, imaging.read_image(src / "big.png").rgb)
    full_s = time.perf_counter() - t0
    token = CancelToken()
    job = translate_files(tr, plan_outputs([src], tmp_path / "out"), token=token)
    cancelled_at = None
    with pytest.raises(JobCancelled):
        for e in job:
            if e.inside is not None and e.inside > 0.1 and cancelled_at is None:
                token.cancel()
                cancelled_at = time.perf_counter()
    assert cancelled_at is not None
    stop_s = time.perf_counter() - cancelled_at
    assert stop_s < 0.5 * full_s, (stop_s, full_s)
    assert not (tmp_path / "out" / "big.png").exists()
    assert not [p for p in (tmp_path / "out").iterdir()], "a partial file was left"



def test_images_read_ahead_stay_within_the_read_budget(tmp_path: Path, tiny_cyclegan: Path, photos: dict[str, np.ndarray],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder of huge photos must not be decoded several at a time ahead of the model: with no
    memory to spare for reading ahead, one image is read at a time, and the outputs are the same."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        Image.fromarray(np.roll(photos["coffee"], 40 * i, axis=1)[:96, :128]).save(src / f"{i}.png")
    tr = load_translator(tiny_cyclegan, InferenceOptions(device="cpu", precision="fp32", workers=2))
    decode = imaging.read_image
    running, most = 0, 0
    lock = threading.Lock()

    def timed_read(path: Path) -> imaging.LoadedImage:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # long enough for a second decode worker to start beside it, if allowed
        try:
            return decode(path)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(imaging, "read_image", timed_read)
    run_job(translate_files(tr, plan_outputs([src], tmp_path / "ahead")))
    assert most == 2  # two decode workers, reading ahead
    most = 0
    monkeypatch.setattr(inference, "READ_AHEAD_SHARE", 0.0)
    run_job(translate_files(tr, plan_outputs([src], tmp_path / "one")))
    assert most == 1
    for i in range(6):
        assert np.array_equal(imaging.read_image(tmp_path / "one" / f"{i}.png").rgb,
                              imaging.read_image(tmp_path / "ahead" / f"{i}.png").rgb)

"""Faults: kill -9 at random moments, a full disk, an unwritable or vanished output folder, and two
jobs writing into one folder. Nothing finished is lost, nothing half-written is left under a real
name, and every failure is a clear error.

The small-disk tests mount a tmpfs and need root (CI runs as root); they skip elsewhere.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translator import imaging
from translator._fs import PARTIAL_PREFIX
from translator.checkpoint import load_model
from translator.cli import main
from translator.errors import OutputError, TranslatorError
from translator.inference import InferenceOptions, load_translator, plan_outputs, translate_files
from translator.jobs import run_job
from translator.training import TrainConfig, train

N_PHOTOS = 32
SEEDS = [0, 1, 2]


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "translator", *map(str, args)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Path:
    """32 real photos of mixed sizes (two sizes, so batches break and re-form on a rerun), large
    enough that a job takes a while after its first outputs even on a fast machine."""
    src = tmp_path_factory.mktemp("faults") / "in"
    src.mkdir()
    names = sorted(photos)
    for i in range(N_PHOTOS):
        photo = np.roll(photos[names[i % len(names)]], 11 * i, axis=1)
        size = (400, 300) if i % 3 else (320, 240)
        Image.fromarray(photo).resize(size).save(src / f"{i:02d}.png")
    return src


@pytest.fixture(scope="module")
def expected(folder: Path, tiny_pix2pix: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The outputs of an uninterrupted run, by file name."""
    out = tmp_path_factory.mktemp("whole") / "out"
    assert main(["translate", "-m", str(tiny_pix2pix), str(folder), "-o", str(out), "-q"]) == 0
    return {f.name: imaging.read_image(f).rgb for f in sorted(out.iterdir())}


def _finished(out: Path) -> list[Path]:
    return sorted(f for f in out.iterdir() if not f.name.startswith(PARTIAL_PREFIX)) if out.is_dir() else []


def _assert_outputs_exact(out: Path, expected: dict[str, np.ndarray]) -> int:
    """Every output under its real name decodes and equals the uninterrupted run's; returns how many."""
    finished = _finished(out)
    for f in finished:
        assert f.name in expected, f
        assert np.array_equal(imaging.read_image(f).rgb, expected[f.name]), f
    return len(finished)


# --- kill -9 ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_of_a_batch_at_a_random_moment_loses_nothing(seed: int, folder: Path, tiny_pix2pix: Path,
                                                           expected: dict[str, np.ndarray], tmp_path: Path) -> None:
    rng = random.Random(seed)
    out = tmp_path / "out"
    after, extra = rng.randrange(0, N_PHOTOS - 12), rng.uniform(0.0, 0.05)  # outputs seen, then seconds
    proc = subprocess.Popen(_cli("translate", "-m", tiny_pix2pix, folder, "-o", out, "-q"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_finished(out)) < after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(extra)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _assert_outputs_exact(out, expected)
    assert kept < N_PHOTOS, "the job finished before the kill; the test proves nothing"
    # The rerun finishes the rest, skips what was done, and clears the dead job's partial files.
    assert main(["translate", "-m", str(tiny_pix2pix), str(folder), "-o", str(out), "-q"]) == 0
    assert _assert_outputs_exact(out, expected) == N_PHOTOS
    assert not [f for f in out.iterdir() if f.name.startswith(PARTIAL_PREFIX)]


@pytest.fixture(scope="module")
def train_data(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    (root / "A").mkdir()
    (root / "B").mkdir()
    for k, (name, photo) in enumerate(sorted(photos.items()) * 3):
        a = np.asarray(Image.fromarray(np.roll(photo, 29 * k, axis=0)).resize((80, 80)))
        Image.fromarray(a).save(root / "A" / f"{k:02d}.png")
        Image.fromarray(255 - a).save(root / "B" / f"{k:02d}.png")
    return root


TRAIN = ["train", "pix2pix", "--steps", "24", "--generator", "unet_64", "--base-filters", "8", "--d-base-filters", "8",
         "--load-size", "72", "--crop-size", "64", "--batch-size", "2", "--workers", "0", "--checkpoint-every", "4",
         "--val-every", "4", "--keep-last", "2", "-q"]


@pytest.fixture(scope="module")
def whole_run(train_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("whole_run") / "run"
    assert main([*TRAIN, "--data", str(train_data), "--out", str(run)]) == 0
    return run


def _train_steps(run: Path) -> list[dict[str, float]]:
    import json

    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [{k: ln[k] for k in ("step", "D", "G_GAN", "G_L1")} for ln in lines if ln.get("phase") == "train"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_of_training_at_a_random_moment_resumes_to_the_same_model(seed: int, train_data: Path, whole_run: Path,
                                                                        tmp_path: Path) -> None:
    rng = random.Random(100 + seed)
    run = tmp_path / "run"
    proc = subprocess.Popen(_cli(*TRAIN, "--data", train_data, "--out", run), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # A random moment from start-up to the last steps; seed 0 always before the first checkpoint,
    # where --resume has nothing to resume from and starts over.
    deadline = time.monotonic() + 120
    target = rng.randrange(0, 18) if seed else 0
    while proc.poll() is None and time.monotonic() < deadline:
        if (run / "log.jsonl").exists() and len(_lines(run / "log.jsonl")) > target:
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.02))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "model.safetensors").exists(), "the run finished before the kill; the test proves nothing"
    # Every checkpoint under its real name is complete.
    checkpoints = sorted((run / "checkpoints").glob("step_*.safetensors"))
    for ckpt in checkpoints:
        load_model(ckpt)
    for state in (run / "checkpoints").glob("step_*.state.pt"):
        torch.load(state, weights_only=True)
    assert seed != 0 or not checkpoints
    assert main([*TRAIN, "--data", str(train_data), "--out", str(run), "--resume"]) == 0
    assert _train_steps(run) == _train_steps(whole_run)
    a, b = load_model(whole_run / "model.safetensors"), load_model(run / "model.safetensors")
    for k, v in a.nets["g"].state_dict().items():
        assert torch.equal(v, b.nets["g"].state_dict()[k]), k


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


# --- a full disk, a read-only or vanished folder ---------------------------------------------------


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a tmpfs of a given size (root only; skips otherwise); unmounted at the end."""
    mounted: list[Path] = []

    def mount(size: str, *, read_only: bool = False) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small file system needs root")
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` until about `leave` bytes are free."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_stops_the_batch_with_a_clear_error_and_keeps_what_was_written(
        small_disk: Callable[..., Path], folder: Path, tiny_pix2pix: Path, expected: dict[str, np.ndarray]) -> None:
    disk = small_disk("400k")
    out = disk / "out"
    proc = subprocess.run(_cli("translate", "-m", tiny_pix2pix, folder, "-o", out, "-q"), capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "the disk is full" in proc.stderr and "rerun the same command" in proc.stderr
    assert "Traceback" not in proc.stderr
    kept = _assert_outputs_exact(out, expected)
    assert 0 < kept < N_PHOTOS
    assert not [f for f in out.iterdir() if f.name.startswith(PARTIAL_PREFIX)]  # no partial output left behind
    assert "output(s) written before it are complete" in proc.stderr
    # With room made, the same command skips what was written and finishes the rest.
    subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
    proc = subprocess.run(_cli("translate", "-m", tiny_pix2pix, folder, "-o", out), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"written {N_PHOTOS - kept}, skipped {kept}" in proc.stdout
    assert _assert_outputs_exact(out, expected) == N_PHOTOS


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(small_disk: Callable[..., Path],
                                                                      train_data: Path) -> None:
    disk = small_disk("24m")
    cfg = TrainConfig("pix2pix", train_data, disk / "run", steps=8, generator="unet_32", base_filters=8,
                      d_base_filters=8, load_size=40, crop_size=32, batch_size=2, workers=0, checkpoint_every=4,
                      val_every=100, sample_every=100)
    job = train(cfg)
    for ev in job:
        if ev.checkpoint is not None:
            break
    first = disk / "run" / "checkpoints" / "step_0000004.safetensors"
    before = first.read_bytes()
    filler = _fill(disk, leave=48 * 1024)  # room for log lines, not for a checkpoint
    with pytest.raises(TranslatorError) as err:
        for _ in job:
            pass
    message = str(err.value)
    assert "cannot write" in message and "No space left on device" in message, message
    assert "step_0000004.safetensors is intact" in message and "--resume" in message, message
    assert first.read_bytes() == before
    load_model(first)
    leftovers = sorted(p.name for p in (disk / "run" / "checkpoints").iterdir())
    assert leftovers == ["step_0000004.safetensors", "step_0000004.state.pt"], leftovers
    # Room made: the run resumes from the kept checkpoint and finishes.
    filler.unlink()
    result = run_job(train(cfg, resume=True))
    assert result.steps_done == 8 and (disk / "run" / "model.safetensors").exists()


def test_a_read_only_output_folder_is_refused_before_any_work(small_disk: Callable[..., Path], folder: Path,
                                                              tiny_pix2pix: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        out = small_disk("1m", read_only=True)
        reason = "Read-only file system"
    else:
        out = tmp_path / "locked"
        out.mkdir()
        out.chmod(0o555)
        reason = "Permission denied"
    proc = subprocess.run(_cli("translate", "-m", tiny_pix2pix, folder, "-o", out, "-q"), capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{out}: cannot write the outputs here ({reason})" in proc.stderr, proc.stderr
    assert "choose another output folder" in proc.stderr and "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []


def test_an_output_folder_deleted_mid_run_stops_the_job_at_the_failing_file(folder: Path, tiny_pix2pix: Path,
                                                                           expected: dict[str, np.ndarray],
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    tr = load_translator(tiny_pix2pix, InferenceOptions(device="cpu"))
    job = translate_files(tr, plan_outputs([folder], out))
    for ev in job:
        if ev.result is not None and ev.result.status == "written":
            break
    shutil.rmtree(out)
    with pytest.raises(OutputError) as err:
        for _ in job:
            pass
    message = str(err.value)
    assert f"the output folder {out} no longer exists" in message and "rerun the same command" in message, message
    assert not out.exists()  # not quietly re-created half-way through the job


def test_two_jobs_writing_into_one_folder_leave_no_corrupt_file(folder: Path, tiny_pix2pix: Path,
                                                               expected: dict[str, np.ndarray], tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = _cli("translate", "-m", tiny_pix2pix, folder, "-o", out, "-q", "--overwrite")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert _assert_outputs_exact(out, expected) == N_PHOTOS
    assert not [f for f in out.iterdir() if f.name.startswith(PARTIAL_PREFIX)]

"""Training: it learns, it resumes exactly, it stops cleanly, it runs on two ranks."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from translator.cli import main
from translator.checkpoint import ModelCard, build_model, load_model, save_model
from translator.errors import JobCancelled, TranslatorError
from translator.jobs import CancelToken, run_job
from translator.networks import GeneratorSpec
from translator.training import TrainConfig, TrainingDiverged, TrainProgress, train


def tone_map(rgb: np.ndarray) -> np.ndarray:
    """A fixed, learnable colour/tone transform: the pix2pix target of each photo."""
    x = rgb.astype(np.float32) / 255
    y = np.stack([x[..., 0] * 0.6 + 0.3, x[..., 1] ** 1.5, 1 - x[..., 2]], -1)
    return np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def paired_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """28 pairs: 80×80 crops of real photos (A) and their tone-mapped versions (B)."""
    from skimage import data

    root = tmp_path_factory.mktemp("paired")
    (root / "A").mkdir()
    (root / "B").mkdir()
    k = 0
    for photo in (data.astronaut(), data.chelsea(), data.coffee(), data.rocket()):
        h, w = photo.shape[:2]
        for i in range(7):
            y, x = (i * 41) % (h - 160), (i * 67) % (w - 160)
            a = np.asarray(Image.fromarray(photo[y : y + 160, x : x + 160]).resize((80, 80)))
            Image.fromarray(a).save(root / "A" / f"{k:02d}.png")
            Image.fromarray(tone_map(a)).save(root / "B" / f"{k:02d}.png")
            k += 1
    return root


@pytest.fixture(scope="session")
def unpaired_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos (trainA) and differently coloured, differently cropped photos (trainB)."""
    from skimage import data

    root = tmp_path_factory.mktemp("unpaired")
    (root / "trainA").mkdir()
    (root / "trainB").mkdir()
    for k, photo in enumerate((data.astronaut(), data.chelsea(), data.coffee(), data.rocket())):
        for i in range(3):
            crop = photo[i * 40 : i * 40 + 200, i * 60 : i * 60 + 200]
            Image.fromarray(crop).resize((72, 72)).save(root / "trainA" / f"{k}{i}.png")
            Image.fromarray(tone_map(crop[::-1])).resize((72, 72)).save(root / "trainB" / f"{k}{i}.png")
    return root


def small_p2p(data: Path, out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(generator="unet_64", base_filters=16, d_base_filters=16, load_size=72, crop_size=64,
                                batch_size=4, workers=0, val_every=10, sample_every=10, checkpoint_every=10)
    base.update(kw)
    return TrainConfig("pix2pix", data, out, **base)


def events(job: Any) -> tuple[list[TrainProgress], Any]:
    out: list[TrainProgress] = []
    result = run_job(job, out.append)
    return out, result


def log_lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_pix2pix_learns_a_tone_mapping(paired_data: Path, tmp_path: Path) -> None:
    t = time.perf_counter()
    evs, result = events(train(small_p2p(paired_data, tmp_path / "run", steps=60, lr=1e-3)))
    minutes = (time.perf_counter() - t) / 60
    assert result.first_validation is not None and result.last_validation is not None
    gain = result.last_validation["psnr"] - result.first_validation["psnr"]
    assert gain >= 5.0, (result.first_validation, result.last_validation, minutes)
    # What the run recorded.
    run = tmp_path / "run"
    lines = log_lines(run)
    train_lines = [ln for ln in lines if ln.get("phase") == "train"]
    assert [ln["step"] for ln in train_lines] == list(range(1, 61))
    for key in ("D", "G_GAN", "G_L1", "d_acc_real", "d_acc_fake", "r_t", "lr", "seconds"):
        assert key in train_lines[0]
    assert json.loads((run / "config.json").read_text())["steps"] == 60
    assert sorted(p.name for p in (run / "samples").iterdir())[-1] == "step_0000060.png"
    assert len(list((run / "checkpoints").glob("*.safetensors"))) == 3  # keep_last
    card = load_model(result.model_path).card
    assert card.training["steps"] == 60 and card.training["validation"]["psnr"] == pytest.approx(result.last_validation["psnr"])
    assert evs[-1].done == evs[-1].total == 60
    # TensorBoard event files (tensorboard is in the test extra).
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard")).Reload()
    assert len(acc.Scalars("train/G_L1")) == 60 and acc.Scalars("val/psnr")[-1].step == 60
    assert acc.Images("samples")


def test_cyclegan_cycle_loss_falls(unpaired_data: Path, tmp_path: Path) -> None:
    cfg = TrainConfig("cyclegan", unpaired_data, tmp_path / "run", steps=60, generator="resnet_2blocks", base_filters=8,
                      d_base_filters=8, load_size=72, crop_size=64, batch_size=2, workers=0, lr=1e-3,
                      checkpoint_every=60, sample_every=60)
    evs, result = events(train(cfg))
    cycle = [e.losses["cycle_A"] + e.losses["cycle_B"] for e in evs]
    assert np.mean(cycle[-10:]) < 0.7 * np.mean(cycle[:5])
    model = load_model(result.model_path)
    assert set(model.nets) == {"g_ab", "g_ba", "d_a", "d_b"}
    assert (tmp_path / "run" / "samples" / "step_0000060.png").exists()


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "translator", *map(str, args)]


def test_resume_after_kill_9_equals_an_uninterrupted_run(paired_data: Path, tmp_path: Path) -> None:
    common = ["train", "pix2pix", "--data", paired_data, "--steps", "12", "--generator", "unet_32", "--base-filters", "8",
              "--d-base-filters", "8", "--load-size", "40", "--crop-size", "32", "--batch-size", "2", "--workers", "0",
              "--checkpoint-every", "4", "--val-every", "4", "--ema", "-q"]
    assert main([str(a) for a in (*common, "--out", tmp_path / "whole")]) == 0  # in-process: same command
    # The same run, killed at a random moment after its second checkpoint, then resumed.
    run = tmp_path / "broken"
    proc = subprocess.Popen(_cli(*common, "--out", run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = run / "checkpoints" / "step_0000008.safetensors"
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists() and not (run / "model.safetensors").exists()
    assert main([str(a) for a in (*common, "--out", run, "--resume")]) == 0
    whole = [ln for ln in log_lines(tmp_path / "whole") if ln.get("phase") == "train"]
    resumed = [ln for ln in log_lines(run) if ln.get("phase") == "train"]
    assert [ln["step"] for ln in resumed] == list(range(1, 13))
    for a, b in zip(whole, resumed):
        assert {k: a[k] for k in ("D", "G_GAN", "G_L1")} == {k: b[k] for k in ("D", "G_GAN", "G_L1")}, a["step"]
    wa, wb = load_model(tmp_path / "whole" / "model.safetensors"), load_model(run / "model.safetensors")
    for k, v in wa.nets["g"].state_dict().items():
        assert torch.equal(v, wb.nets["g"].state_dict()[k]), k


def test_ema_batchnorm_stats_are_measured_for_the_average_without_changing_the_run(paired_data: Path, tmp_path: Path) -> None:
    # Dropout on, so a measurement that drew from the global random stream would change training.
    kw: dict[str, Any] = dict(steps=8, generator="unet_32", load_size=40, crop_size=32, dropout=True, norm="batch",
                              val_every=3, sample_every=4, checkpoint_every=4)
    _, with_ema = events(train(small_p2p(paired_data, tmp_path / "ema", ema=True, **kw)))
    _, without = events(train(small_p2p(paired_data, tmp_path / "plain", ema=False, **kw)))
    state = torch.load(tmp_path / "ema" / "checkpoints" / "step_0000008.state.pt", weights_only=True)
    plain = torch.load(tmp_path / "plain" / "checkpoints" / "step_0000008.state.pt", weights_only=True)
    for role in ("g", "d"):  # the live networks trained exactly as without the average
        for k, v in plain["nets"][role].items():
            assert torch.equal(v, state["nets"][role][k]), (role, k)
    saved = load_model(with_ema.model_path).nets["g"].state_dict()
    live = state["nets"]["g"]
    means = [k for k in saved if k.endswith("running_mean")]
    assert means and all(not torch.equal(saved[k], live[k]) for k in means)  # not the live net's statistics
    assert all(int(saved[k.replace("running_mean", "num_batches_tracked")]) == 64 // 4 for k in means)
    for k, v in state["ema"]["g"]["module"].items():  # the checkpoint's state holds what its model file holds
        assert torch.equal(v, saved[k]), k
    assert with_ema.last_validation != without.last_validation


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(paired_data: Path, tmp_path: Path) -> None:
    cfg = small_p2p(paired_data, tmp_path / "run", steps=2, checkpoint_every=2, generator="unet_32", load_size=40, crop_size=32)
    events(train(cfg))
    # Resumed with an L1 weight that overflows float32: the loss becomes inf at step 3.
    with pytest.raises(TrainingDiverged, match="G_L1 became inf") as err:
        events(train(dataclasses.replace(cfg, steps=4, lambda_l1=1e39), resume=True))
    assert "last good checkpoint is kept" in str(err.value) and "--lr" in str(err.value)
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.safetensors"))
    assert kept == ["step_0000002.safetensors"]
    for t in load_model(tmp_path / "run" / "checkpoints" / kept[0]).nets["g"].state_dict().values():
        assert torch.isfinite(t.float()).all()


def test_cancel_saves_a_checkpoint_and_the_model(paired_data: Path, tmp_path: Path) -> None:
    token = CancelToken()
    cfg = small_p2p(paired_data, tmp_path / "run", steps=100, generator="unet_32", load_size=40, crop_size=32,
                    checkpoint_every=1000)
    job = train(cfg, token=token)
    for _ in range(3):
        next(job)
    token.cancel()
    with pytest.raises(JobCancelled):
        next(job)
    assert (tmp_path / "run" / "checkpoints" / "step_0000003.safetensors").exists()
    assert load_model(tmp_path / "run" / "model.safetensors").card.training["steps"] == 3
    evs, result = events(train(cfg, resume=True, token=CancelToken()))
    assert evs[0].done == 4 and result.steps_done == 100


def test_fresh_discriminator_is_warmed_up_with_g_frozen(paired_data: Path, tmp_path: Path) -> None:
    start = build_model(ModelCard("noD", "pix2pix", {"g": GeneratorSpec("unet_32", 8)}), seed=0)
    start_path = save_model(start, tmp_path / "noD.safetensors")
    cfg = small_p2p(paired_data, tmp_path / "run", steps=2, from_model=str(start_path), d_warmup_steps=12,
                    generator=None, load_size=40, crop_size=32, lr=1e-3, checkpoint_every=100)
    # Cancelled right after the warm-up: the saved raw G equals the starting G, buffers included.
    token = CancelToken()
    job = train(cfg, token=token)
    for _ in range(12):
        next(job)
    token.cancel()
    with pytest.raises(JobCancelled):
        next(job)
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_0000000.state.pt", weights_only=True)
    for k, v in start.nets["g"].state_dict().items():
        assert torch.equal(state["nets"]["g"][k], v), k
    evs, result = events(train(dataclasses.replace(cfg, out=tmp_path / "run2")))
    assert [e.phase for e in evs] == ["warmup"] * 12 + ["train"] * 2
    assert all(set(e.losses) == {"D"} for e in evs[:12])
    # D learns to tell the frozen G's fakes from real targets during the warm-up.
    first, last = evs[0], evs[11]
    assert (last.d_acc_real + last.d_acc_fake) > (first.d_acc_real + first.d_acc_fake)
    model = load_model(result.model_path)
    assert "d" in model.nets and model.card.training["ema"] is True  # fine-tuning: EMA on by default


def test_config_file_and_folder_errors(paired_data: Path, tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(f'kind = "pix2pix"\ndata = "{paired_data}"\nout = "{tmp_path / "cfg"}"\nsteps = 2\n'
                    'generator = "unet_32"\nbase_filters = 4\nload_size = 36\ncrop_size = 32\nworkers = 0\n')
    cfg = TrainConfig.from_file(toml, steps=3)
    assert cfg.steps == 3 and cfg.generator == "unet_32"
    events(train(cfg))
    with pytest.raises(TranslatorError, match="already holds a run; use --resume"):
        events(train(cfg))
    with pytest.raises(TranslatorError, match="no such folder|does not exist|not found"):
        events(train(TrainConfig("pix2pix", tmp_path / "missing", tmp_path / "x")))
    (tmp_path / "file").write_text("")
    with pytest.raises(TranslatorError, match="is a file"):
        events(train(small_p2p(paired_data, tmp_path / "file", steps=1)))
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [")
    with pytest.raises(TranslatorError, match="not a valid TOML"):
        TrainConfig.from_file(bad)


def test_full_disk_is_a_clear_error_and_the_previous_checkpoint_survives(paired_data: Path, tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes writes past a size fail as on a full disk (EFBIG), in a subprocess.
    run = tmp_path / "run"
    common = ["train", "pix2pix", "--data", paired_data, "--generator", "unet_32", "--base-filters", "8",
              "--load-size", "40", "--crop-size", "32", "--workers", "0", "--checkpoint-every", "2", "-q", "--out", run]
    assert main([str(a) for a in common] + ["--steps", "2"]) == 0
    size = (run / "checkpoints" / "step_0000002.state.pt").stat().st_size
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size // 2}, {size // 2})); "
        "from translator.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, *map(str, common), "--steps", "4", "--resume"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write a checkpoint" in proc.stderr and "step_0000002.safetensors is intact" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert load_model(run / "checkpoints" / "step_0000002.safetensors").card.training["steps"] == 2


def test_two_cpu_ranks_with_torchrun(paired_data: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    run = tmp_path / "ddp"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "translator", "train", "pix2pix", "--data", str(paired_data),
         "--out", str(run), "--steps", "4", "--generator", "unet_32", "--base-filters", "8", "--load-size", "40",
         "--crop-size", "32", "--batch-size", "2", "--workers", "0", "--device", "cpu", "-q"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = log_lines(run)[-1]
    assert done["phase"] == "done" and done["ranks"] == 2 and done["ranks_in_sync"] is True
    assert len([ln for ln in log_lines(run) if ln.get("phase") == "train"]) == 4  # only rank 0 writes
    assert set(load_model(run / "model.safetensors").nets) == {"g", "d"}


def test_adaptive_augmentation_follows_r_t(paired_data: Path, tmp_path: Path) -> None:
    cfg = small_p2p(paired_data, tmp_path / "run", steps=12, ada=True, generator="unet_32", load_size=40, crop_size=32,
                    lr=1e-3, checkpoint_every=100)
    events(train(cfg))
    lines = [ln for ln in log_lines(tmp_path / "run") if ln.get("phase") == "train"]
    p = [0.0] + [ln["ada_p"] for ln in lines]
    for prev, now, line in zip(p, p[1:], lines):
        expected = 1 if line["r_t"] > 0.6 else -1  # raised while D is over-confident on reals, lowered otherwise
        assert now == pytest.approx(min(max(prev + expected * 4 / 2000, 0.0), 0.8)), line


def test_a_crop_too_small_for_the_generator_says_what_to_choose(paired_data: Path, tmp_path: Path) -> None:
    """A U-Net 64 halves a 32 crop to half a pixel: refused before training, in words, not with
    torch's "Expected more than 1 spatial element"."""
    start = build_model(ModelCard("u64", "pix2pix", {"g": GeneratorSpec("unet_64", 8)}), seed=0)
    start_path = save_model(start, tmp_path / "u64.safetensors")
    cfg = small_p2p(paired_data, tmp_path / "run", steps=2, from_model=str(start_path), generator=None,
                    load_size=40, crop_size=32)
    with pytest.raises(TranslatorError, match=r"crop size 32 is too small .*unet_64.*--crop-size 64"):
        events(train(cfg))
    assert not (tmp_path / "run" / "model.safetensors").exists()

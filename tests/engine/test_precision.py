"""`--precision auto`: bf16 where the device runs it natively and it keeps the model's pictures,
checked once per model and device on a real photo; fp32 otherwise, and fp32 stays exact."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from translator import devices, imaging, precision
from translator.checkpoint import ModelCard, build_model, load_model, save_model
from translator.inference import InferenceOptions, load_translator, make_translator, translate_array
from translator.metrics import psnr
from translator.model_cache import ModelCache
from translator.networks import GeneratorSpec

AUTO = InferenceOptions(device="cpu", precision="auto")


@pytest.fixture()
def native(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This CPU as one with native bf16 (the capability check says so), and no verdicts remembered."""
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(precision, "_VERDICTS", {})
    yield


@pytest.fixture()
def fragile(tmp_path: Path) -> Path:
    """A resnet whose first convolution adds 1000 before an InstanceNorm takes the mean out again:
    exact in fp32, but bf16 (8 bits of mantissa: steps of 4 at 1000) loses the picture."""
    card = ModelCard(name="fragile", kind="pix2pix", generators={"g": GeneratorSpec("resnet_6blocks", 8, "instance", False)},
                     discriminators={}, task="test", image_size=64)
    model = build_model(card, seed=3)
    with torch.no_grad():
        first = next(m for m in model.nets["g"].modules() if isinstance(m, torch.nn.Conv2d))
        assert first.bias is not None
        first.bias.fill_(1000.0)
    return save_model(model, tmp_path / "fragile.safetensors")


def test_auto_is_fp32_on_a_cpu_without_native_bf16(monkeypatch: pytest.MonkeyPatch, tiny_pix2pix: Path) -> None:
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    tr = load_translator(tiny_pix2pix, AUTO)
    assert tr.precision == "fp32"
    rgb = imaging.read_image(precision.PROBE).rgb
    assert np.array_equal(translate_array(tr, rgb), translate_array(load_translator(tiny_pix2pix, InferenceOptions(device="cpu")), rgb))
    assert not precision.verdict_file().exists()  # nothing to check: bf16 was never a candidate


def test_auto_is_bf16_where_native_and_the_model_keeps_its_pictures(native: None, tiny_cyclegan: Path) -> None:
    tr = load_translator(tiny_cyclegan, AUTO)
    assert tr.precision == "bf16"
    rgb = imaging.read_image(precision.PROBE).rgb
    fp32 = translate_array(load_translator(tiny_cyclegan, InferenceOptions(device="cpu", precision="fp32")), rgb)
    fast = translate_array(tr, rgb)
    assert not np.array_equal(fast, fp32)  # bf16 really ran
    assert psnr(fast, fp32) >= precision.MIN_PSNR_DB
    verdicts = json.loads(precision.verdict_file().read_text())
    assert len(verdicts) == 1 and next(iter(verdicts.values())) >= precision.MIN_PSNR_DB


def test_a_model_that_bf16_would_change_runs_in_fp32_with_a_log_line(native: None, fragile: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="translator.precision"):
        tr = load_translator(fragile, AUTO)
    assert tr.precision == "fp32"
    assert any("fragile" in r.getMessage() and "running in fp32" in r.getMessage() for r in caplog.records)
    rgb = imaging.read_image(precision.PROBE).rgb
    exact = load_translator(fragile, InferenceOptions(device="cpu", precision="fp32"))
    assert np.array_equal(translate_array(tr, rgb), translate_array(exact, rgb))
    forced = load_translator(fragile, InferenceOptions(device="cpu", precision="bf16"))  # asked for: not second-guessed
    assert forced.precision == "bf16" and psnr(translate_array(forced, rgb), translate_array(exact, rgb)) < precision.MIN_PSNR_DB


def test_the_check_runs_once_per_model_and_device_and_is_remembered_across_processes(
        native: None, tiny_cyclegan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = 0
    measure = precision._measure

    def counted(tr: object) -> float:
        nonlocal runs
        runs += 1
        return measure(tr)  # type: ignore[arg-type]

    monkeypatch.setattr(precision, "_measure", counted)
    cache = ModelCache()
    for seed in (0, 1, 2):  # options that do not change the network
        assert cache.get(tiny_cyclegan, None, AUTO.__class__(device="cpu", precision="auto", seed=seed)).precision == "bf16"
    assert runs == 1
    monkeypatch.setattr(precision, "_VERDICTS", {})  # a new process: the verdict comes from the cache file
    assert load_translator(tiny_cyclegan, AUTO).precision == "bf16"
    assert runs == 1
    model = load_model(tiny_cyclegan)  # other weights: checked again
    with torch.no_grad():
        next(iter(model.nets["g_ab"].parameters())).mul_(1.01)
    make_translator(model, AUTO)
    assert runs == 2


def test_fp32_is_still_what_is_asked_for_and_never_checked(native: None, tiny_pix2pix: Path) -> None:
    tr = load_translator(tiny_pix2pix, InferenceOptions(device="cpu", precision="fp32"))
    assert tr.precision == "fp32"
    assert not precision.verdict_file().exists()


def test_a_remembered_verdict_is_found_whatever_layout_the_weights_are_in(native: None, tiny_pix2pix: Path) -> None:
    """The verdict's key samples the weights in their logical order without copying them: a
    channels-last net (as a U-Net runs on the CPU) has the key of the same weights in NCHW."""
    plain, channels_last = load_model(tiny_pix2pix), load_model(tiny_pix2pix)
    for role, net in channels_last.nets.items():
        channels_last.nets[role] = net.to(memory_format=torch.channels_last)
    assert any(p.dim() == 4 and not p.is_contiguous() for p in channels_last.nets["g"].parameters())
    keys = [precision._key(make_translator(m, InferenceOptions(device="cpu", precision="fp32"))) for m in (plain, channels_last)]
    assert keys[0] == keys[1]
    build = load_model(tiny_pix2pix)
    with torch.no_grad():
        next(p for p in build.nets["g"].parameters() if p.dim() == 4)[0, 0, 0, 0] += 1  # a sampled weight changed
    assert precision._key(make_translator(build, InferenceOptions(device="cpu", precision="fp32"))) != keys[0]

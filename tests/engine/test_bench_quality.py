"""The quality benchmark reuses a cached result or a run folder only for the very same settings,
and scores given model files on a task's test set."""
from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from translator.checkpoint import load_model
from translator.imaging import write_image
from translator.inference import InferenceOptions, make_translator, translate_array
from translator.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_settings_changed_sees_new_and_removed_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # the benchmark runs as `python -m bench.quality.run` from the root
    settings_changed = importlib.import_module("bench.quality.run").settings_changed
    cfg = TrainConfig.from_preset("classic", "pix2pix", tmp_path / "data", tmp_path / "run", steps=700)
    saved = json.loads(json.dumps(cfg.to_dict()))
    assert settings_changed(saved, cfg) == []
    assert settings_changed({**saved, "steps": 600}, cfg) == ["steps"]
    # written before `input_skip` existed: that run trained without it
    old = {k: v for k, v in saved.items() if k != "input_skip"}
    assert settings_changed(old, cfg) == []
    assert settings_changed(old, replace(cfg, input_skip=True)) == ["input_skip"]
    # an option the tool no longer has matters only if the run had it on
    assert settings_changed({**saved, "mean_start": False}, cfg) == []
    assert settings_changed({**saved, "mean_start": True}, cfg) == ["mean_start"]


def test_evaluate_scores_given_models_on_the_test_pairs_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, photos: dict[str, np.ndarray], tiny_pix2pix: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    bench = importlib.import_module("bench.quality.run")
    # A built test set (the `.complete` marker makes `build` reuse it) whose targets are the
    # model's own eval-mode outputs, paired by name.
    data = tmp_path / "work" / "data" / "night"
    translator = make_translator(load_model(tiny_pix2pix), InferenceOptions(device="cpu", mode="eval", tile="off"))
    for i, (name, rgb) in enumerate(sorted(photos.items())):
        crop = np.ascontiguousarray(rgb[:64, :64])
        write_image(data / "test" / "A" / f"{name}_{i:03d}.png", crop)
        write_image(data / "test" / "B" / f"{name}_{i:03d}.png", translate_array(translator, crop))
    (data / ".complete").touch()
    results = tmp_path / "results"

    assert bench.main(["--tasks", "night", "--evaluate", str(tiny_pix2pix), "--work", str(tmp_path / "work"),
                       "--results", str(results)]) == 0

    printed = capsys.readouterr().out
    assert f"night: {tiny_pix2pix}: eval 100.00 dB / 1.000, reference " in printed  # BatchNorm: both modes
    reference_psnr = float(printed.split("reference ")[1].split(" dB")[0])
    assert reference_psnr < 60  # per-image statistics and dropout give other pixels
    assert not any(results.iterdir())  # no calibration, trivial or result file

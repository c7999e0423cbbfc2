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
    assert f"night: {tiny_pix2pix}: eval 100.00 dB / 1.000 / KID " in printed  # BatchNorm: both modes
    reference_psnr = float(printed.split("reference ")[1].split(" dB")[0])
    assert reference_psnr < 60  # per-image statistics and dropout give other pixels
    # KID beside them: the eval-mode outputs are the targets themselves, the reference-mode ones are not.
    eval_kid = float(printed.split("eval 100.00 dB / 1.000 / KID ")[1].split(",")[0])
    reference_kid = float(printed.split("reference ")[1].split("KID ")[1].split()[0])
    assert eval_kid < reference_kid
    assert not any(results.iterdir())  # no calibration, trivial or result file


def _result(task: str, variant: str, seed: int, psnr: float, ssim: float, kid: float | None) -> dict[str, object]:
    cell: dict[str, float] = {"psnr": psnr, "ssim": ssim, "d_realness": 0.5}
    if kid is not None:
        cell["kid"] = kid
    return {"task": task, "variant": variant, "seed": seed, "budgets": [5], "sec_per_step": 0.4,
            "results": {"5": {"steps": 700, "eval": cell}}}


def test_report_puts_kid_beside_psnr_ssim_and_says_whether_the_rankings_agree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    bench = importlib.import_module("bench.quality.run")
    results = tmp_path / "results"
    results.mkdir()
    runs = {  # (task, variant): per seed (PSNR, SSIM, KID)
        ("colorize", "classic"): [(20.0, 0.70, 0.030), (20.4, 0.72, 0.034)],  # best PSNR, worst SSIM and KID
        ("colorize", "default"): [(19.0, 0.80, 0.020), (19.2, 0.82, 0.018)],
        ("night", "classic"): [(15.0, 0.50, 0.050)],
        ("night", "default"): [(16.0, 0.60, None)],  # scored before KID existed
    }
    for (task, variant), seeds in runs.items():
        for seed, (p, s, k) in enumerate(seeds):
            (results / f"{task}__{variant}__seed{seed}.json").write_text(json.dumps(_result(task, variant, seed, p, s, k)))
        (results / f"{task}__trivial.json").write_text(json.dumps({"input": {"psnr": 10.0, "ssim": 0.3, "kid": 0.2}}))
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text("# Benchmarks\n")
    section = bench.report(results, benchmarks)
    colorize, night = section.split("### night")
    assert "| KID (last) |" in colorize and "| trivial: input | — | 10.00 / 0.300 | 0.2000 |" in colorize
    assert "| `classic` | eval | 20.20 ± 0.28 / 0.710 ± 0.014 | 0.0320 ± 0.0028 |" in colorize
    assert "by PSNR: `classic` > `default`; by SSIM: `default` > `classic`; by KID: `default` > `classic`" in colorize
    assert "KID agrees with SSIM only." in colorize
    assert "| `default` | eval | 16.00 / 0.600 | — |" in night and "KID not measured for every run" in night
    assert section in benchmarks.read_text()

"""The quality benchmark reuses a cached result or a run folder only for the very same settings."""
from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

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

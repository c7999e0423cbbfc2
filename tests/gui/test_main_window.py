"""User flows through the real main window (offscreen), with real models, photos and files."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from translator import imaging
from translator._fs import PARTIAL_PREFIX
from translator.evaluation import compare_image
from translator.inference import load_translator
from translator.paths import user_models_dir

REF = Path(__file__).parent.parent / "data" / "reference"


@pytest.fixture()
def models(tiny_pix2pix: Path) -> Path:
    """The user models folder (isolated per test) holding a tiny pix2pix model with a D."""
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_pix2pix, folder / "tiny-p2p.safetensors")
    return folder


@pytest.fixture()
def window(qtbot: QtBot, models: Path, tmp_path: Path) -> MainWindow:
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    return w


def test_preview_shows_output_and_correct_readouts(qtbot: QtBot, window: MainWindow, pairs: Path) -> None:
    assert [p.name for p, _ in window.picker.entries()] == ["tiny-p2p.safetensors"]
    window.open_folder(pairs)
    assert [p.name for p in window.strip.paths()] == ["astronaut.png", "chelsea.png", "coffee.png"]
    window.strip.select(pairs / "chelsea.png")
    qtbot.waitUntil(lambda: window.preview.comparison is not None and window.preview.status.text().startswith("chelsea"), timeout=20000)
    shown = window.preview.comparison
    assert shown is not None
    expected = compare_image(load_translator(window.session.model_path), pairs / "chelsea.png", pairs.parent / "B" / "chelsea.png")
    assert np.array_equal(shown.output, expected.output)
    assert window.preview.readouts.psnr.text() == f"{expected.psnr:.1f} dB"
    assert window.preview.readouts.ssim.text() == f"{expected.ssim:.3f}"
    assert expected.verdict_output is not None
    assert expected.verdict_target is not None
    assert window.preview.readouts.realness.text() == \
        f"{expected.verdict_output.mean_realness:.2f} (target {expected.verdict_target.mean_realness:.2f})"
    assert window.preview.target_view.has_image()
    # the heat-map toggle puts D's patch map over the output
    window.preview.readouts.heatmap.setChecked(True)
    assert window.preview.output_view.overlay_visible()
    # next image by the keyboard shortcut's slot
    window.strip.step(1)
    qtbot.waitUntil(lambda: window.preview.status.text().startswith("coffee"), timeout=20000)
    qtbot.waitUntil(lambda: not window.preview_jobs.is_busy(), timeout=20000)


def test_batch_with_a_bad_file_then_cancel_and_resume(qtbot: QtBot, window: MainWindow, pairs: Path, tmp_path: Path,
                                                       photos: dict[str, np.ndarray],
        shifted_copies: Callable[..., Path]) -> None:
    (pairs / "broken.png").write_text("not an image")
    out = tmp_path / "out"
    window.open_folder(pairs)
    window.batch.output.setText(str(out))
    with qtbot.waitSignal(window.batch.finished, timeout=60000) as done:
        window.run_batch()
    summary = done.args[0]
    assert summary is not None and len(summary.written) == 3 and len(summary.failed) == 1
    assert window.batch.failures.count() == 1 and "broken.png" in window.batch.failures.item(0).text()
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "chelsea.png", "coffee.png"]
    # A bigger folder: cancel mid-way, then run again.
    big = shifted_copies(tmp_path / "big", photos["coffee"], 30, (160, 120), step=9, axis=1)
    window.open_folder(big)
    out2 = tmp_path / "out2"
    window.batch.output.setText(str(out2))
    window.run_batch()
    qtbot.waitUntil(lambda: out2.exists() and len(list(out2.glob("[0-9]*.png"))) >= 2, timeout=60000)
    with qtbot.waitSignal(window.batch.finished, timeout=60000):
        window.batch.cancel()
    finished = list(out2.iterdir())
    assert 2 <= len(finished) < 30 and not any(p.name.startswith(PARTIAL_PREFIX) for p in finished)
    assert "cancelled" in window.batch.rate.text()
    with qtbot.waitSignal(window.batch.finished, timeout=60000) as done:
        window.run_batch()
    assert len(done.args[0].skipped) == len(finished) and len(list(out2.iterdir())) == 30


def test_batch_into_an_output_folder_that_cannot_be_written_says_so(qtbot: QtBot, window: MainWindow, pairs: Path,
                                                                    tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    out = locked / "out"  # the job must create it: refused for a user, and for root a file blocks it
    if os.geteuid() == 0:  # root ignores permission bits
        out = tmp_path / "blocker" / "out"
        out.parent.write_text("a file where the output folder's parent should be")
    window.open_folder(pairs)
    window.batch.output.setText(str(out))
    with qtbot.waitSignal(window.batch.finished, timeout=60000) as done:
        window.run_batch()
    assert done.args[0] is None  # no summary: the job stopped before the first image
    text = window.batch.rate.text()
    assert text.startswith(f"{out}: cannot write the outputs here") and "choose another output folder" in text, text
    assert window.batch.run_button.isEnabled()


def test_imported_reference_checkpoint_appears_in_the_picker(qtbot: QtBot, window: MainWindow) -> None:
    window.picker.import_files([REF / "unet_128_ngf8_batch_dropout_net_G.pth"], "pix2pix", "facades-test")
    qtbot.waitUntil(lambda: any(p.name == "facades-test.safetensors" for p, _ in window.picker.entries()), timeout=20000)
    assert window.picker.current() is not None and window.picker.current()[0].name == "facades-test.safetensors"
    assert "unet_128" in window.picker.details.toolTip() and "discriminator: none" in window.picker.details.toolTip()
    qtbot.waitUntil(lambda: not window.picker._worker or not window.picker._worker.is_running(), timeout=5000)


def test_a_bad_import_shows_a_message_not_a_traceback(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr("gui.main_window.QMessageBox.warning", lambda _parent, _title, text: shown.append(text))
    bad = tmp_path / "bad_net_G.pth"
    bad.write_bytes(b"garbage")
    window.picker.import_files([bad], "pix2pix", "bad")
    qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    assert "bad_net_G.pth" in shown[0] and "Traceback" not in shown[0]


def test_closing_during_a_batch_stops_it_cleanly(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                  photos: dict[str, np.ndarray],
        shifted_copies: Callable[..., Path]) -> None:
    folder = shifted_copies(tmp_path / "many", photos["astronaut"], 40, (160, 160), step=5, axis=0)
    window.open_folder(folder)
    window.batch.output.setText(str(tmp_path / "o"))
    window.run_batch()
    qtbot.waitUntil(lambda: window.batch.is_running(), timeout=10000)
    window.close()  # cancels and waits for the job; the fixture fails the test if any job is left
    assert not window.batch.is_running()
    for f in (tmp_path / "o").iterdir() if (tmp_path / "o").exists() else []:
        imaging.read_image(f)  # every output complete


def test_settings_persist_folders_and_device(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.open_folder(pairs)
    first.library.options.precision.setCurrentText("bf16")
    first.close()
    qtbot.waitUntil(lambda: not first.preview_jobs.is_busy(), timeout=20000)
    second = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert second.session.input_folder == pairs and second.library.options.precision.currentText() == "bf16"
    second.close()
    qtbot.waitUntil(lambda: not second.preview_jobs.is_busy(), timeout=20000)


def test_fine_tuned_model_appears_in_the_picker(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                               photos: dict[str, np.ndarray]) -> None:
    # Fine-tune the selected tiny pix2pix a few steps on real photo pairs (B = 255 - A).
    data = tmp_path / "pairs"
    for side in ("A", "B"):
        (data / side).mkdir(parents=True)
    for i, img in enumerate(photos.values()):
        for j, (y, x) in enumerate(((0, 0), (100, 100))):
            a = np.asarray(Image.fromarray(img[y : y + 200, x : x + 200]).resize((40, 40)))
            Image.fromarray(a).save(data / "A" / f"{i}{j}.png")
            Image.fromarray(255 - a).save(data / "B" / f"{i}{j}.png")
    panel = window.train_panel
    assert panel.from_selected.isEnabled() and panel.from_selected.isChecked()  # starts from the picked model
    panel.steps.setValue(3)
    panel.name_edit.setText("my-finetune")
    panel.config_overrides(load_size=72, crop_size=64, workers=0, val_every=3, sample_every=3, checkpoint_every=3,
                           d_warmup_steps=2)
    panel.set_data_folder(data)
    qtbot.waitUntil(lambda: "pair" in panel.data_info.text(), timeout=10000)
    panel.start()
    qtbot.waitUntil(lambda: any(p.name == "my-finetune.safetensors" for p, _ in window.picker.entries()), timeout=60000)
    assert window.picker.current() is not None and window.picker.current()[0].name == "my-finetune.safetensors"
    assert panel.loss_plot.series_names()
    qtbot.waitUntil(lambda: not panel.running(), timeout=20000)


def test_a_target_folder_named_by_the_user(qtbot: QtBot, window: MainWindow, pairs: Path, tmp_path: Path) -> None:
    window.open_folder(pairs)
    assert window.session.target_folder == pairs.parent / "B" and "(found)" in window.library.target_label.text()
    other = tmp_path / "elsewhere"
    other.mkdir()
    for f in (pairs.parent / "B").iterdir():
        Image.open(f).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other / f.name)
    window.strip.select(pairs / "coffee.png")
    window.set_target_folder(other)
    assert str(other) in window.library.target_label.text()

    def shows_other() -> bool:
        c = window.preview.comparison
        return c is not None and c.target is not None and np.array_equal(c.target, imaging.read_image(other / "coffee.png").rgb)

    qtbot.waitUntil(shows_other, timeout=20000)
    window.set_target_folder(None)
    qtbot.waitUntil(lambda: window.preview.readouts.psnr.text() == "no target image", timeout=20000)
    qtbot.waitUntil(lambda: not window.preview_jobs.is_busy(), timeout=20000)


def test_a_second_model_compares_two_outputs_of_one_input(qtbot: QtBot, models: Path, tiny_cyclegan: Path,
                                                         pairs: Path, tmp_path: Path) -> None:
    shutil.copy(tiny_cyclegan, models / "tiny-cycle.safetensors")
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.picker.select(models / "tiny-p2p.safetensors")
    window.open_folder(pairs)
    window.strip.select(pairs / "astronaut.png")
    window.set_second_model(models / "tiny-cycle.safetensors", "BtoA")
    assert window.compare_with.currentText() == "tiny-cycle (B→A)"

    def both() -> bool:
        return window.preview.second is not None and window.preview.status.text().startswith("astronaut")

    qtbot.waitUntil(both, timeout=20000)
    second = window.preview.second
    assert second is not None
    expected = compare_image(load_translator(models / "tiny-cycle.safetensors", window.session.options, "BtoA"),
                             pairs / "astronaut.png", pairs.parent / "B" / "astronaut.png")
    assert np.array_equal(second.output, expected.output)
    assert window.preview.second_view.isVisible()
    assert f"match to target {expected.psnr:.1f} dB" in window.preview.readouts.second.text()
    window.set_second_model(None)
    qtbot.waitUntil(lambda: not window.preview.second_view.isVisible(), timeout=20000)
    qtbot.waitUntil(lambda: not window.preview_jobs.is_busy(), timeout=20000)
    window.close()


def test_imported_cyclegan_pair_offers_both_directions(qtbot: QtBot, window: MainWindow) -> None:
    g = REF / "resnet_6blocks_ngf8_instance_net_G.pth"
    window.picker.import_files([g, g], "cyclegan", "pair-test")  # G_A then G_B
    qtbot.waitUntil(lambda: sum(p.name == "pair-test.safetensors" for p, _ in window.picker.entries()) == 2, timeout=20000)
    directions = sorted(d for p, d in window.picker.entries() if p.name == "pair-test.safetensors")
    assert directions == ["AtoB", "BtoA"]
    qtbot.waitUntil(lambda: not window.picker._worker or not window.picker._worker.is_running(), timeout=5000)

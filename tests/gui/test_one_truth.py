"""The app keeps one truth: the session owns every choice, panels are views of it, the preview
refreshes exactly when its inputs change, stale previews stop, and jobs sharing a model never
disturb each other. Real window (offscreen), real models, real photos."""
from __future__ import annotations

import shutil
from collections.abc import Callable
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from gui.main_window import TAB_BATCH, TAB_PREVIEW, MainWindow
from translator import imaging
from translator.evaluation import compare_image
from translator.inference import QUICK_SIDE, InferenceOptions, load_translator, translate_array
from translator.paths import user_models_dir

TIMEOUT = 60_000


@pytest.fixture()
def models(tiny_pix2pix: Path, tiny_cyclegan: Path) -> Path:
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_pix2pix, folder / "tiny-p2p.safetensors")
    shutil.copy(tiny_cyclegan, folder / "tiny-cycle.safetensors")
    return folder


def make_window(qtbot: QtBot, tmp_path: Path, size: tuple[int, int] = (1400, 900)) -> MainWindow:
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    return w


def settle(qtbot: QtBot, w: MainWindow) -> None:
    """Wait until no preview is pending or running."""
    qtbot.waitUntil(lambda: not w._preview_timer.isActive() and not w.preview_jobs.is_busy(), timeout=TIMEOUT)


def test_preview_refreshes_when_its_inputs_change_and_only_then(qtbot: QtBot, models: Path, pairs: Path,
                                                               tmp_path: Path) -> None:
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-p2p.safetensors")
    w.open_folder(pairs, pairs / "chelsea.png")
    settle(qtbot, w)
    assert w.preview.comparison is not None
    n = w.previews_started
    options = w.library.options

    # Not inputs of the preview: the batch's output folder and format, the same values again.
    w.session.set_output_folder(tmp_path / "elsewhere")
    w.session.set_output_format("png")
    w.session.set_current_image(pairs / "chelsea.png")
    options.seed.setValue(options.seed.value())
    settle(qtbot, w)
    assert w.previews_started == n

    # Each input of the preview: exactly one refresh each.
    for change in (lambda: options.seed.setValue(7),
                   lambda: options.tile.setCurrentText("512"),
                   lambda: options.precision.setCurrentText("bf16"),
                   lambda: options.mode.setCurrentIndex(options.mode.findData("reference")),
                   lambda: w.session.set_current_image(pairs / "coffee.png"),
                   lambda: w.set_second_model(models / "tiny-cycle.safetensors", "AtoB"),
                   lambda: w.set_target_folder(None),
                   lambda: w.picker.select(models / "tiny-cycle.safetensors", "BtoA")):
        change()
        settle(qtbot, w)
        assert w.previews_started == n + 1
        n += 1
    # The panels show what the session holds, and the preview ran with it.
    o = w.session.options
    assert (o.seed, o.tile, o.precision, o.mode) == (7, 512, "bf16", "reference")
    assert w.batch.summary.text().count("bf16") == 1
    expected = compare_image(load_translator(models / "tiny-cycle.safetensors", o, "BtoA"), pairs / "coffee.png")
    assert w.preview.comparison is not None
    assert np.array_equal(w.preview.comparison.output, expected.output)


def test_the_preview_waits_while_another_tab_is_shown(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path) -> None:
    """On the Sketch or Batch tab, changes do not run previews (they would compete for the
    cores); showing the Preview tab again runs one, for what was chosen meanwhile."""
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-p2p.safetensors")
    w.open_folder(pairs, pairs / "chelsea.png")
    settle(qtbot, w)
    n = w.previews_started
    w.tabs.setCurrentIndex(TAB_BATCH)
    for seed in (4, 5, 6):
        w.library.options.seed.setValue(seed)
    w.session.set_current_image(pairs / "coffee.png")
    settle(qtbot, w)
    assert w.previews_started == n
    w.tabs.setCurrentIndex(TAB_PREVIEW)
    settle(qtbot, w)
    assert w.previews_started == n + 1 and w.preview.status.text().startswith("coffee")


def test_changing_seed_or_tiling_never_reloads_the_model(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path) -> None:
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-p2p.safetensors")
    w.open_folder(pairs, pairs / "astronaut.png")
    settle(qtbot, w)
    loads = w.models.loads
    assert loads >= 1
    options = w.library.options
    for seed in (1, 2, 3):
        options.seed.setValue(seed)
        settle(qtbot, w)
    for tile in ("512", "off", "auto"):
        options.tile.setCurrentText(tile)
        settle(qtbot, w)
    options.tile_stats.setCurrentText("fast")
    settle(qtbot, w)
    assert w.models.loads == loads


def test_options_chosen_in_the_side_bar_drive_the_batch(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path) -> None:
    """The batch reads the session (set through the side bar's widgets), not widgets of its own."""
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-p2p.safetensors")
    w.open_folder(pairs)
    options = w.library.options
    options.mode.setCurrentIndex(options.mode.findData("reference"))
    options.seed.setValue(11)
    out = tmp_path / "out"
    w.batch.output.setText(str(out))
    w.batch.output.editingFinished.emit()
    assert w.session.output_folder == out
    with qtbot.waitSignal(w.batch.finished, timeout=TIMEOUT) as done:
        w.run_batch()
    assert done.args[0] is not None and len(done.args[0].written) == 3
    alone = load_translator(models / "tiny-p2p.safetensors", w.session.options)
    assert (alone.options.mode, alone.options.seed) == ("reference", 11)
    for name in ("astronaut", "chelsea", "coffee"):
        want = translate_array(alone, imaging.read_image(pairs / f"{name}.png").rgb)
        assert np.array_equal(imaging.read_image(out / f"{name}.png").rgb, want), name
    settle(qtbot, w)


def test_a_stale_large_preview_stops_within_a_tile(qtbot: QtBot, models: Path, tmp_path: Path,
                                                    photos: dict[str, np.ndarray]) -> None:
    """Moving to another image while a large tiled preview runs cancels it: it stops after at
    most a tile pass more (not after its tens of passes), and the new image is shown."""
    folder = tmp_path / "big"
    folder.mkdir()
    big = np.tile(photos["coffee"], (5, 3, 1))[:2048, :1792]  # a real photo, tiled up to 2048×1792
    Image.fromarray(big).save(folder / "a_big.png")
    Image.fromarray(photos["chelsea"]).resize((128, 96)).save(folder / "b_small.png")
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-cycle.safetensors", "AtoB")  # InstanceNorm: statistics passes over the tiles
    w.session.update_options(tile=256)
    w.open_folder(folder, folder / "a_big.png")
    qtbot.waitUntil(lambda: w.preview.busy.maximum() > 0 and w.preview.busy.value() >= 2, timeout=TIMEOUT)
    stale = w.preview_jobs.current()
    assert stale is not None
    total = w.preview.busy.maximum()
    seen_at_cancel = w.preview.busy.value()
    t0 = time.monotonic()
    w.session.set_current_image(folder / "b_small.png")
    qtbot.waitUntil(lambda: stale.is_done(), timeout=TIMEOUT)
    stopped_s = time.monotonic() - t0
    qtbot.waitUntil(lambda: w.preview.status.text().startswith("b_small"), timeout=TIMEOUT)
    assert total > 20 and seen_at_cancel < total  # tens of tile passes (statistics segments, then the tiles)
    assert w.preview.comparison is not None and w.preview.comparison.output.shape[:2] == (96, 128)
    assert "error" not in w.preview.status.text().lower()
    # Far less than the rest of the stale job would have taken (its passes ran at a measured pace).
    assert stopped_s < 10.0, stopped_s
    settle(qtbot, w)


def test_a_preview_and_a_batch_on_one_model_give_what_each_gives_alone(qtbot: QtBot, models: Path, tmp_path: Path,
                                                                      photos: dict[str, np.ndarray],
        shifted_copies: Callable[..., Path]) -> None:
    folder = shifted_copies(tmp_path / "in", photos["astronaut"], 6, (384, 384), step=40, axis=1)
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-cycle.safetensors", "AtoB")
    w.session.update_options(tile=128)  # both jobs tile: whole-image statistics passes
    w.library.options.mode.setCurrentIndex(w.library.options.mode.findData("reference"))
    w.open_folder(folder, folder / "00.png")
    out = tmp_path / "out"
    w.session.set_output_folder(out)
    w.run_batch()  # runs while previews of other images run on the same cached model
    w.tabs.setCurrentIndex(TAB_PREVIEW)
    for i in (1, 2, 3, 4, 5):
        w.session.set_current_image(folder / f"{i:02d}.png")
        qtbot.wait(150)
    qtbot.waitUntil(lambda: not w.batch.is_running(), timeout=TIMEOUT)
    settle(qtbot, w)
    options = w.session.options
    alone = load_translator(models / "tiny-cycle.safetensors", options, "AtoB")
    for i in range(6):
        want = translate_array(alone, imaging.read_image(folder / f"{i:02d}.png").rgb)
        assert np.array_equal(imaging.read_image(out / f"{i:02d}.png").rgb, want), i
    assert w.preview.comparison is not None
    want = translate_array(alone, imaging.read_image(folder / "05.png").rgb)
    assert np.array_equal(w.preview.comparison.output, want)


@pytest.mark.parametrize("size", [(1400, 900), (1280, 720), (960, 640)])
def test_compare_layout_gives_every_view_a_fair_share(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path,
                                                       size: tuple[int, int]) -> None:
    w = make_window(qtbot, tmp_path, size)
    w.picker.select(models / "tiny-p2p.safetensors")
    w.set_second_model(models / "tiny-cycle.safetensors", "AtoB")
    w.open_folder(pairs, pairs / "coffee.png")
    qtbot.waitUntil(lambda: w.preview.second is not None, timeout=TIMEOUT)
    settle(qtbot, w)
    views = w.preview.shown_views()
    assert views == [w.preview.input_view, w.preview.output_view, w.preview.second_view, w.preview.target_view]
    widths = [v.width() for v in views]
    assert min(widths) >= 0.8 * max(widths), widths
    if w.width() >= 1280:
        assert sum(widths) >= 0.45 * w.width(), (widths, w.width())  # the pictures get the room
    # Without targets, the empty target view is hidden and the others share its room.
    w.set_target_folder(None)
    settle(qtbot, w)
    assert w.preview.target_view.isHidden() and len(w.preview.shown_views()) == 3
    qtbot.waitUntil(lambda: min(v.width() for v in w.preview.shown_views()) > max(widths), timeout=5000)


def test_a_failed_image_clears_the_previous_one(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path) -> None:
    (pairs / "zz_broken.png").write_text("not an image")
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-p2p.safetensors")
    w.open_folder(pairs, pairs / "chelsea.png")
    qtbot.waitUntil(lambda: w.preview.comparison is not None, timeout=TIMEOUT)
    settle(qtbot, w)
    w.session.set_current_image(pairs / "zz_broken.png")

    def failed() -> bool:  # "Translating zz_broken.png…" first, then the reason
        text = w.preview.status.text()
        return "zz_broken.png" in text and not text.startswith("Translating")

    qtbot.waitUntil(failed, timeout=TIMEOUT)
    assert w.preview.comparison is None
    assert not any(v.has_image() for v in w.preview.views())
    assert "dB" not in w.preview.readouts.psnr.text()
    settle(qtbot, w)


def test_a_running_batch_shows_and_cancels_from_the_status_bar_on_any_tab(qtbot: QtBot, models: Path, tmp_path: Path,
                                                                         photos: dict[str, np.ndarray],
        shifted_copies: Callable[..., Path]) -> None:
    folder = shifted_copies(tmp_path / "many", photos["astronaut"], 40, (256, 256), step=5, axis=0)
    w = make_window(qtbot, tmp_path, (1280, 720))
    w.picker.select(models / "tiny-p2p.safetensors")
    w.open_folder(folder)
    w.session.set_output_folder(tmp_path / "out")
    w.run_batch()
    w.tabs.setCurrentIndex(TAB_PREVIEW)
    qtbot.waitUntil(lambda: any("/40" in t for t in w.jobs.titles()), timeout=TIMEOUT)
    assert w.jobs.isVisible() and w.jobs.cancel_buttons()[0].isVisible()
    assert "ETA" in w.jobs.titles()[0]
    with qtbot.waitSignal(w.batch.finished, timeout=TIMEOUT) as done:
        w.jobs.cancel_buttons()[0].click()
    assert done.args[0] is None and "cancelled" in w.batch.rate.text()
    qtbot.waitUntil(lambda: not w.jobs.isVisible(), timeout=5000)
    settle(qtbot, w)


def test_choices_survive_a_restart(qtbot: QtBot, models: Path, pairs: Path, tmp_path: Path) -> None:
    first = make_window(qtbot, tmp_path)
    first.picker.select(models / "tiny-cycle.safetensors", "BtoA")
    first.set_second_model(models / "tiny-p2p.safetensors")
    first.open_folder(pairs)
    first.library.options.precision.setCurrentText("bf16")
    first.library.options.tile.setCurrentText("1024")
    first.session.set_output_folder(tmp_path / "mine")
    first.close()
    second = make_window(qtbot, tmp_path)
    s = second.session
    assert s.model == (models / "tiny-cycle.safetensors", "BtoA")
    assert s.compare == (models / "tiny-p2p.safetensors", None)
    assert (s.options.precision, s.options.tile) == ("bf16", 1024)
    assert s.output_folder == tmp_path / "mine" and s.input_folder == pairs
    assert second.picker.current() == s.model and second.compare_with.currentText().startswith("tiny-p2p")
    assert second.library.options.precision.currentText() == "bf16"
    settle(qtbot, second)
    second.close()


def test_options_panel_and_session_agree_both_ways(qtbot: QtBot, models: Path, tmp_path: Path) -> None:
    w = make_window(qtbot, tmp_path)
    panel = w.library.options
    w.session.update_options(precision="bf16", tile=2048, mode="reference", seed=3)
    assert (panel.precision.currentText(), panel.tile.currentText(), panel.mode.currentData(), panel.seed.value()) == \
        ("bf16", "2048", "reference", 3)
    assert not panel.advanced.is_expanded()  # rarely changed: folded away by default
    panel.tile.setCurrentText("off")
    assert w.session.options.tile == "off"
    w.session.update_options(tile=384, device="cpu")  # values the menus do not list are shown, not lost
    assert (panel.tile.currentText(), panel.device.currentText()) == ("384", "cpu")
    panel.tile.setCurrentText("384")
    assert w.session.options.tile == 384


def test_no_thread_is_left_when_the_window_closes_mid_preview(qtbot: QtBot, models: Path, tmp_path: Path,
                                                             photos: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(np.tile(photos["chelsea"], (4, 4, 1))).save(folder / "big.png")
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-cycle.safetensors", "AtoB")
    w.session.update_options(tile=256)
    w.open_folder(folder)
    qtbot.waitUntil(lambda: w.preview_jobs.is_busy(), timeout=TIMEOUT)
    before = threading.active_count()
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 10 and threading.active_count() <= before


def test_a_large_image_shows_a_quick_look_then_its_full_resolution(qtbot: QtBot, models: Path, tmp_path: Path,
                                                                   photos: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "large"
    folder.mkdir()
    Image.fromarray(np.tile(photos["chelsea"], (3, 2, 1))).save(folder / "big.png")  # 902×900, a real photo tiled
    w = make_window(qtbot, tmp_path)
    w.picker.select(models / "tiny-p2p.safetensors")
    shown: list[tuple[int, ...]] = []
    w.preview.output_view.imageChanged.connect(lambda: shown.append(
        (w.preview.output_view.image_size().width(), w.preview.output_view.image_size().height())))
    w.open_folder(folder, folder / "big.png")
    qtbot.waitUntil(lambda: w.preview.comparison is not None, timeout=TIMEOUT)
    settle(qtbot, w)
    assert w.preview.quick_shown == 1
    sizes = [s for s in shown if s != (0, 0)]
    assert max(sizes[0]) == QUICK_SIDE and sizes[-1] == (902, 900), sizes  # quick look first, then the full result
    assert w.preview.status.text().startswith("big.png (902×900)")
    # A small image has no quick look.
    Image.fromarray(photos["coffee"]).resize((300, 200)).save(folder / "small.png")
    w.strip.set_folder(folder)
    w.session.set_current_image(folder / "small.png")
    qtbot.waitUntil(lambda: w.preview.status.text().startswith("small.png"), timeout=TIMEOUT)
    assert w.preview.quick_shown == 1
    settle(qtbot, w)

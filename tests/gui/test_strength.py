"""The strength slider: one session value that the preview, the Sketch tab and batches all use;
moving it re-blends what was already translated (the generator does not run again). Real window,
real slider, real models and photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from gui.main_window import TAB_SKETCH, MainWindow
from gui.session import Session
from translator import imaging
from translator.blend import blend
from translator.inference import load_translator, plan_outputs, translate_array, translate_files
from translator.jobs import run_job
from translator.metrics import psnr

TIMEOUT = 60_000


@pytest.fixture()
def w(chosen_window: MainWindow) -> MainWindow:
    return chosen_window


def settle(qtbot: QtBot, w: MainWindow) -> None:
    qtbot.waitUntil(lambda: not w._preview_timer.isActive() and not w.preview_jobs.is_busy()
                    and not w.reblend_jobs.is_busy(), timeout=TIMEOUT)


def test_the_session_holds_strength_between_0_and_1_and_remembers_it(qtbot: QtBot, tmp_path: Path) -> None:
    s = Session()
    assert s.strength == 1.0
    with qtbot.waitSignal(s.strengthChanged) as changed:
        s.set_strength(0.35)
    assert changed.args == [0.35]
    with qtbot.assertNotEmitted(s.strengthChanged):
        s.set_strength(0.35)
    for bad in (1.2, -0.5, float("nan")):
        with pytest.raises(ValueError, match="between 0 and 1"):
            s.set_strength(bad)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    s.settings_save(settings)
    again = Session()
    again.settings_load(settings)
    assert again.strength == 0.35


def test_the_slider_re_blends_the_preview_without_running_the_generator(qtbot: QtBot, w: MainWindow,
                                                                      pairs: Path) -> None:
    w.open_folder(pairs, pairs / "chelsea.png")
    settle(qtbot, w)
    full = w.preview.comparison
    assert full is not None and full.psnr is not None
    started, loads = w.previews_started, w.models.loads
    slider = w.library.options.strength.slider
    slider.setFocus()
    for _ in range(6):  # 100 % → 40 % with the keyboard, as a user would
        QTest.keyClick(slider, Qt.Key.Key_PageDown)
    assert w.session.strength == pytest.approx(0.4)
    assert w.library.options.strength.percent.text() == "40 %"
    assert w.preview.output_view.caption().endswith("· 40 %")
    qtbot.waitUntil(lambda: w.preview.comparison is not None and w.preview.comparison is not full, timeout=TIMEOUT)
    settle(qtbot, w)
    now = w.preview.comparison
    assert now is not None and now.psnr is not None
    assert w.previews_started == started and w.models.loads == loads  # blended, not translated again
    np.testing.assert_array_equal(now.output, blend(full.input, full.output, 0.4))
    assert now.target is not None
    assert now.psnr == pytest.approx(psnr(now.output, now.target)) and now.psnr != pytest.approx(full.psnr)
    assert now.verdict_output is not None and full.verdict_output is not None
    assert now.verdict_output.mean_realness != full.verdict_output.mean_realness  # the verdict is on what is shown

    # A new image arrives at the slider's strength.
    w.session.set_current_image(pairs / "coffee.png")
    settle(qtbot, w)
    c = w.preview.comparison
    assert c is not None
    raw = translate_array(load_translator(w.session.model_path), c.input)  # type: ignore[arg-type]
    np.testing.assert_array_equal(c.output, blend(c.input, raw, 0.4))


def test_the_sketch_tab_and_the_batch_use_the_same_strength(qtbot: QtBot, w: MainWindow, pairs: Path,
                                                             tmp_path: Path) -> None:
    w.session.set_strength(0.5)
    w.tabs.setCurrentIndex(TAB_SKETCH)
    sk = w.sketch
    qtbot.waitUntil(lambda: sk.result() is not None and not sk.jobs.is_busy(), timeout=TIMEOUT)
    drawing = sk.canvas.sketch()
    raw = translate_array(load_translator(w.session.model_path), drawing)  # type: ignore[arg-type]
    half = sk.result()
    assert half is not None
    np.testing.assert_array_equal(half, blend(drawing, raw, 0.5))
    n = sk.translations_started
    w.session.set_strength(0.8)
    assert sk.translations_started == n
    now = sk.result()
    assert now is not None
    np.testing.assert_array_equal(now, blend(drawing, raw, 0.8))
    assert sk.result_view.caption().endswith("· 80 %")

    w.open_folder(pairs)
    assert "at 80 % strength" in w.batch.summary.text()
    out = tmp_path / "out"
    w.session.set_output_folder(out)
    with qtbot.waitSignal(w.batch.finished, timeout=TIMEOUT) as done:
        w.run_batch()
    assert done.args[0] is not None and len(done.args[0].written) == 3
    full = tmp_path / "full"  # the same job at full strength (batched as the app batches)
    run_job(translate_files(load_translator(w.session.model_path), plan_outputs([pairs], full)))  # type: ignore[arg-type]
    for name in ("astronaut", "chelsea", "coffee"):
        rgb, raw_out = imaging.read_image(pairs / f"{name}.png").rgb, imaging.read_image(full / f"{name}.png").rgb
        assert not np.array_equal(raw_out, rgb)
        np.testing.assert_array_equal(imaging.read_image(out / f"{name}.png").rgb, blend(rgb, raw_out, 0.8), err_msg=name)
    settle(qtbot, w)

"""The Sketch tab: real canvas, real strokes (QTest mouse events), real models and files.

What each test checks (none of it existed before the tab):
- a stroke changes the result, and the result is `translate_array` of `canvas.sketch()` with the
  session's options;
- Ctrl+Z restores the earlier sketch pixel for pixel and its result; Ctrl+Shift+Z redoes;
- a burst of 50 strokes never has more than one translation running, drops stale requests, and
  ends with the output of the final sketch; a long stroke is translated while it is drawn, at the
  model's training size on a larger canvas (then in full once it ends);
- "Save…" never overwrites without asking (No: bytes unchanged; Yes: replaced);
- "Add to dataset" writes A/ and B/ under the same, never colliding, names, both or neither, and
  remembers the folder;
- a stroke is one smooth line (no darker dots where its pieces join);
- the canvas takes the card's size, colours and line width, re-colours nothing drawn, and widths
  scale with the canvas size; tablet pressure thins the line;
- a compare model shows a second result of the same sketch;
- the photo traced over is shown but is not in `sketch()`;
- the Sketch tab is second and opens with a model that takes sketches.
"""
from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QImage, QInputDevice, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from gui.jobs import live_workers
from gui.main_window import TAB_BATCH, TAB_FINETUNE, TAB_LOG, TAB_PREVIEW, TAB_SKETCH, MainWindow
from gui.session import Session
from gui.widgets.image_view import ImageView
from gui.widgets.sketch_canvas import SketchCanvas
from gui.widgets.sketch_panel import KEY_DATASET, SketchPanel
from translator import imaging
from translator.checkpoint import InputStyle, build_model, read_card, save_model
from translator.inference import translate_array
from translator.model_cache import ModelCache
from translator.paths import user_models_dir

TIMEOUT = 30_000
INK, PAPER = "#203080", "#f0e8d0"


@pytest.fixture(scope="module")
def sketch_model(tmp_path_factory: pytest.TempPathFactory, tiny_pix2pix: Path) -> Path:
    """The tiny pix2pix, trained (so its card says) on dark blue lines 3 px wide on cream paper at 64²."""
    card = dataclasses.replace(read_card(tiny_pix2pix), name="tiny-sketch",
                               input_style=InputStyle("draw dark blue lines on cream paper", INK, PAPER, 3.0))
    model = build_model(card, seed=5)
    return save_model(model, tmp_path_factory.mktemp("sketch") / "tiny-sketch.safetensors")


@pytest.fixture()
def panel(qtbot: QtBot, sketch_model: Path, tmp_path: Path) -> Iterator[SketchPanel]:
    session = Session()
    session.set_model(sketch_model)
    p = SketchPanel(session, ModelCache().get, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    p.session.setParent(p)
    qtbot.addWidget(p)
    p.resize(900, 500)
    p.show()
    settle(qtbot, p)
    yield p
    p.jobs.cancel()


def settle(qtbot: QtBot, p: SketchPanel) -> np.ndarray:
    """Wait until the result shown is that of the drawing as it is; return it."""
    qtbot.waitUntil(lambda: p.result() is not None and not p.jobs.is_busy(), timeout=TIMEOUT)
    result = p.result()
    assert result is not None
    return result


def at(canvas: SketchCanvas, x: float, y: float) -> QPoint:
    """The widget point over (x, y), given as fractions of the drawing's width and height."""
    r = canvas.image_rect()
    return QPoint(round(r.left() + x * r.width()), round(r.top() + y * r.height()))


def stroke(canvas: SketchCanvas, points: list[tuple[float, float]]) -> None:
    """A left-button stroke through `points` (fractions of the drawing), sent as QTest mouse events."""
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(canvas, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(canvas, at(canvas, *p))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(canvas, *points[-1]))


def line(y: float, x0: float = 0.2, x1: float = 0.8, n: int = 8) -> list[tuple[float, float]]:
    return [(x0 + (x1 - x0) * i / (n - 1), y) for i in range(n)]


def expected(p: SketchPanel, sketch: np.ndarray, model: tuple[Path, str | None] | None = None) -> np.ndarray:
    path, direction = model or p.session.model or (Path(), None)
    return translate_array(p._get_model(path, direction, p.session.options), sketch)  # type: ignore[arg-type]


def shown(view: ImageView) -> np.ndarray:
    """The image an ImageView shows, as (H, W, 3) uint8."""
    image = view._image.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def colour(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)


def test_a_stroke_changes_the_result_to_the_translation_of_the_sketch(qtbot: QtBot, panel: SketchPanel) -> None:
    blank = settle(qtbot, panel)
    stroke(panel.canvas, line(0.5))
    drawn = panel.canvas.sketch()
    result = settle(qtbot, panel)
    assert not np.array_equal(result, blank)
    np.testing.assert_array_equal(result, expected(panel, drawn))
    np.testing.assert_array_equal(shown(panel.result_view), result)
    # the options come from the session: another mode re-translates the same sketch
    n = panel.translations_started
    panel.session.update_options(mode="reference", seed=3)
    qtbot.waitUntil(lambda: panel.translations_started > n, timeout=TIMEOUT)
    np.testing.assert_array_equal(settle(qtbot, panel), expected(panel, drawn))


def test_undo_restores_the_earlier_sketch_and_result_and_redo_brings_them_back(qtbot: QtBot, panel: SketchPanel) -> None:
    c = panel.canvas
    blank = c.sketch()
    stroke(c, line(0.3))
    one, one_result = c.sketch(), settle(qtbot, panel)
    stroke(c, [(0.2, 0.2), (0.5, 0.8), (0.8, 0.2)])
    two, two_result = c.sketch(), settle(qtbot, panel)
    assert not np.array_equal(one, two)

    c.setFocus()
    QTest.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(c.sketch(), one)
    np.testing.assert_array_equal(settle(qtbot, panel), one_result)
    QTest.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(c.sketch(), blank)
    assert not panel.undo_action.isEnabled()
    QTest.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(c.sketch(), two)
    np.testing.assert_array_equal(settle(qtbot, panel), two_result)
    assert not panel.redo_action.isEnabled()

    panel.clear_action.trigger()  # clear is one undoable step too
    np.testing.assert_array_equal(c.sketch(), blank)
    panel.undo_action.trigger()
    np.testing.assert_array_equal(c.sketch(), two)
    settle(qtbot, panel)


def test_a_burst_of_strokes_runs_one_translation_at_a_time_and_ends_with_the_last_sketch(
        qtbot: QtBot, panel: SketchPanel) -> None:
    panel.canvas.set_side(512)  # 64× the pixels: translations take long enough to overlap the strokes
    settle(qtbot, panel)
    started = panel.translations_started
    running: list[int] = []
    for i in range(50):
        y = 0.1 + 0.8 * i / 49
        stroke(panel.canvas, line(y, n=6))
        running.append(sum(w.name.startswith("sketch#") for w in live_workers()))
        QApplication.processEvents()  # results and finished jobs arrive between strokes
        running.append(sum(w.name.startswith("sketch#") for w in live_workers()))
    final = panel.canvas.sketch()
    result = settle(qtbot, panel)
    assert max(running) <= 1, running
    assert 1 <= panel.translations_started - started < 50  # stale requests were dropped, not queued
    np.testing.assert_array_equal(result, expected(panel, final))


def test_a_long_stroke_is_translated_while_it_is_drawn(qtbot: QtBot, panel: SketchPanel) -> None:
    c = panel.canvas
    started = panel.translations_started
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(c, 0.1, 0.5))
    for i in range(40):
        QTest.mouseMove(c, at(c, 0.1 + 0.8 * i / 39, 0.5 + 0.3 * np.sin(i / 5)))
        qtbot.wait(40)  # about 1.6 s of drawing, the throttle allows a translation every 120 ms
    during = panel.translations_started - started
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(c, 0.9, 0.5))
    assert 2 <= during <= 40
    np.testing.assert_array_equal(settle(qtbot, panel), expected(panel, c.sketch()))


def test_during_a_stroke_on_a_large_canvas_the_model_sees_its_training_size(qtbot: QtBot, panel: SketchPanel) -> None:
    c = panel.canvas
    c.set_side(128)  # the model was trained at 64²
    settle(qtbot, panel)
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(c, 0.1, 0.5))
    QTest.mouseMove(c, at(c, 0.5, 0.3))
    with qtbot.waitSignal(panel.resultShown, timeout=TIMEOUT):
        pass
    quick = panel._shown
    assert quick is not None and quick.quick and panel.result() is None  # a quick look is never saved
    small = np.asarray(Image.fromarray(quick.sketch).resize((64, 64), Image.Resampling.BOX))
    look = np.asarray(Image.fromarray(expected(panel, small)).resize((128, 128), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(shown(panel.result_view), look)
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(c, 0.9, 0.5))
    np.testing.assert_array_equal(settle(qtbot, panel), expected(panel, c.sketch()))  # full size once it ends


def test_save_never_overwrites_without_asking(qtbot: QtBot, panel: SketchPanel, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    stroke(panel.canvas, line(0.4))
    first = settle(qtbot, panel)
    target = tmp_path / "out" / "drawing.png"
    asked: list[str] = []

    def answer(reply: QMessageBox.StandardButton) -> None:
        def question(_parent: object, _title: str, text: str, *_args: object) -> QMessageBox.StandardButton:
            asked.append(text)
            return reply
        monkeypatch.setattr(QMessageBox, "question", question)

    answer(QMessageBox.StandardButton.Yes)
    assert panel.save_to(target)
    assert not asked  # nothing there: no question
    result_file = target.with_name("drawing_result.png")
    np.testing.assert_array_equal(imaging.read_image(target).rgb, panel.canvas.sketch())
    np.testing.assert_array_equal(imaging.read_image(result_file).rgb, first)
    before = target.read_bytes(), result_file.read_bytes()

    stroke(panel.canvas, line(0.7))
    second = settle(qtbot, panel)
    answer(QMessageBox.StandardButton.No)
    assert not panel.save_to(target)
    assert len(asked) == 1 and "drawing.png" in asked[0]
    assert (target.read_bytes(), result_file.read_bytes()) == before

    target.unlink()  # only the result is there: still asked
    assert not panel.save_to(target)
    assert len(asked) == 2 and not target.exists() and result_file.read_bytes() == before[1]

    answer(QMessageBox.StandardButton.Yes)
    assert panel.save_to(target)
    np.testing.assert_array_equal(imaging.read_image(target).rgb, panel.canvas.sketch())
    np.testing.assert_array_equal(imaging.read_image(result_file).rgb, second)
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_add_to_dataset_writes_pairs_under_new_names_both_or_neither(
        qtbot: QtBot, panel: SketchPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        photos: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "dataset"
    (folder / "A").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(folder / "A" / "sketch-0002.png")  # someone's earlier pair
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(folder))
    stroke(panel.canvas, line(0.5))
    result = settle(qtbot, panel)

    written = panel.add_to_dataset()  # the first time it asks for the folder, then remembers it
    assert written == (folder / "A" / "sketch-0003.png", folder / "B" / "sketch-0003.png")
    assert panel._settings is not None and panel._settings.value(KEY_DATASET) == str(folder)
    np.testing.assert_array_equal(imaging.read_image(written[0]).rgb, panel.canvas.sketch())
    np.testing.assert_array_equal(imaging.read_image(written[1]).rgb, result)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: pytest.fail("asked again"))
    photo = tmp_path / "photo.png"
    imaging.write_image(photo, photos["chelsea"])
    qtbot.waitUntil(lambda: panel.trace_over(photo) is not None and panel.canvas.has_trace(), timeout=TIMEOUT)
    stroke(panel.canvas, line(0.8))
    again = panel.add_to_dataset()  # with a photo traced over, B is the photo (at the canvas size)
    assert again is not None and again[0].name == again[1].name == "sketch-0004.png"
    traced = panel.canvas.trace_image()
    assert traced is not None and traced.shape == (64, 64, 3)
    np.testing.assert_array_equal(imaging.read_image(again[1]).rgb, traced)
    assert sorted(p.name for p in (folder / "A").iterdir()) == ["sketch-0002.png", "sketch-0003.png", "sketch-0004.png"]
    assert sorted(p.name for p in (folder / "B").iterdir()) == ["sketch-0003.png", "sketch-0004.png"]

    broken = tmp_path / "broken"
    (broken / "A").mkdir(parents=True)
    (broken / "B").write_text("a file where the B folder should be")
    panel.set_dataset_folder(broken)
    assert panel.add_to_dataset() is None
    assert list((broken / "A").iterdir()) == []  # the sketch was not left alone in A/
    assert "B" in panel.message.text()
    settle(qtbot, panel)


def test_the_canvas_takes_the_cards_size_colours_and_width(qtbot: QtBot, panel: SketchPanel, tiny_pix2pix: Path) -> None:
    c = panel.canvas
    ink, paper = colour(INK), colour(PAPER)
    assert c.side() == 64 and panel.width_box.currentData() == 3.0
    assert "dark blue lines on cream" in panel.hint.text()
    assert (c.sketch() == paper).all()
    assert [panel.size_box.itemData(i) for i in range(panel.size_box.count())] == [64, 128, 256]
    stroke(c, [(0.1, 0.5), (0.5, 0.5), (0.9, 0.5)])
    sketch = c.sketch()
    inked = (sketch == ink).all(axis=2)
    assert 2 <= inked[:, 32].sum() <= 4  # 3 px wide, the card says
    assert ((sketch == ink).all(axis=2) | (sketch == paper).all(axis=2)).mean() > 0.95  # the rest: anti-aliased edges

    panel.size_box.setCurrentIndex(1)
    panel.size_box.activated.emit(1)  # as a user's pick
    assert c.side() == 128
    stroke(c, [(0.1, 0.25), (0.5, 0.25), (0.9, 0.25)])
    wide = (c.sketch() == ink).all(axis=2)[:, 64]
    assert 5 <= wide[:64].sum() <= 8  # the same 3 px at 64² is 6 px at 128²

    drawn = c.sketch()
    panel.session.set_model(tiny_pix2pix)  # a model that says nothing about its input
    assert panel.hint.text() == "" and c.side() == 128
    np.testing.assert_array_equal(c.sketch(), drawn)  # a drawing keeps its size and colours
    panel.clear_action.trigger()
    assert (c.sketch() == 255).all()  # a clear starts on white paper
    stroke(c, [(0.1, 0.5), (0.9, 0.5)])
    assert (c.sketch() == 0).all(axis=2).any()  # black ink
    settle(qtbot, panel)


def test_a_stroke_is_one_smooth_line_without_darker_joins(qtbot: QtBot, panel: SketchPanel) -> None:
    c = panel.canvas
    c.set_side(128)
    panel.width_box.setCurrentIndex(panel.width_box.findData(1.0))  # 2 px at 128²: joins would show most
    stroke(c, [(0.5 + 0.12 * i / 59, 0.1 + 0.8 * i / 59) for i in range(60)])  # many short pieces, slanted
    ink = (colour(PAPER).astype(float) - c.sketch()).clip(0).sum(axis=2)  # how much ink, per pixel
    per_row = ink.sum(axis=1)[20:108]  # the middle of the line, away from its ends
    assert per_row.min() > 0 and per_row.std() / per_row.mean() < 0.02  # pieces drawn one by one: 0.047
    settle(qtbot, panel)


def test_tablet_pressure_thins_the_line(qtbot: QtBot, panel: SketchPanel) -> None:
    c = panel.canvas
    panel.width_box.setCurrentIndex(panel.width_box.findData(8.0))
    device = QPointingDevice("test pen", 1, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                             QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 2)

    def tablet_stroke(y: float, pressure: float) -> int:
        before = (c.sketch() == colour(INK)).all(axis=2).sum()
        points = [QPointF(at(c, x, y)) for x in (0.2, 0.4, 0.6, 0.8)]
        kinds = [QTabletEvent.Type.TabletPress] + [QTabletEvent.Type.TabletMove] * 2 + [QTabletEvent.Type.TabletRelease]
        for kind, pos in zip(kinds, points):
            buttons = Qt.MouseButton.NoButton if kind == QTabletEvent.Type.TabletRelease else Qt.MouseButton.LeftButton
            event = QTabletEvent(kind, device, pos, c.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                                 Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, buttons)
            QApplication.sendEvent(c, event)
        return int((c.sketch() == colour(INK)).all(axis=2).sum() - before)

    full, light = tablet_stroke(0.3, 1.0), tablet_stroke(0.7, 0.25)
    assert full > 0 and light > 0
    assert light < full * 0.5
    assert c.can_undo()
    settle(qtbot, panel)


def test_a_compare_model_shows_a_second_result_of_the_same_sketch(qtbot: QtBot, panel: SketchPanel,
                                                                 tiny_cyclegan: Path) -> None:
    assert panel.compare_view.isHidden()
    stroke(panel.canvas, line(0.5))
    panel.session.set_compare(tiny_cyclegan, "BtoA")
    assert not panel.compare_view.isHidden()
    qtbot.waitUntil(lambda: panel.compare_view.has_image(), timeout=TIMEOUT)
    settle(qtbot, panel)
    sketch = panel.canvas.sketch()
    np.testing.assert_array_equal(shown(panel.compare_view), expected(panel, sketch, (tiny_cyclegan, "BtoA")))
    np.testing.assert_array_equal(shown(panel.result_view), expected(panel, sketch))
    panel.session.set_compare(None)
    assert panel.compare_view.isHidden()
    settle(qtbot, panel)


def test_the_photo_traced_over_is_shown_but_not_in_the_sketch(qtbot: QtBot, panel: SketchPanel, tmp_path: Path,
                                                              photos: dict[str, np.ndarray]) -> None:
    c = panel.canvas
    stroke(c, line(0.5))
    settle(qtbot, panel)
    sketch, started, looks = c.sketch(), panel.translations_started, c.grab().toImage()
    photo = tmp_path / "astronaut.png"
    imaging.write_image(photo, photos["astronaut"])
    with qtbot.waitSignal(panel.trace_over(photo).finished, timeout=TIMEOUT):
        pass
    assert c.has_trace() and panel.opacity_action.isVisible()
    np.testing.assert_array_equal(c.sketch(), sketch)
    assert c.grab().toImage() != looks  # but it is on screen
    panel.opacity.setValue(0)
    assert c.grab().toImage() == looks
    stroke(c, line(0.2))
    assert not np.array_equal(c.sketch(), sketch)
    panel.untrace_action.trigger()
    assert not c.has_trace() and not panel.opacity_action.isVisible()
    settle(qtbot, panel)
    assert panel.translations_started > started


def test_open_sketch_fits_a_scan_onto_the_canvas(qtbot: QtBot, panel: SketchPanel, tmp_path: Path) -> None:
    scan = np.full((60, 120, 3), 255, np.uint8)
    scan[28:32, 10:110] = 0  # a wide scan with one thick line
    imaging.write_image(tmp_path / "scan.png", scan)
    with qtbot.waitSignal(panel.canvas.changed, timeout=TIMEOUT):
        panel.open_sketch(tmp_path / "scan.png")
    sketch = panel.canvas.sketch()
    assert sketch.shape == (64, 64, 3)
    dark = sketch.mean(axis=2) < 100
    rows = np.flatnonzero(dark.any(axis=1))
    assert 28 <= rows.mean() <= 36 and dark[rows[0]].sum() > 40  # the line, fitted and centred
    panel.undo_action.trigger()
    assert (panel.canvas.sketch() == colour(PAPER)).all()
    settle(qtbot, panel)


def test_the_sketch_tab_opens_with_a_model_that_takes_sketches(qtbot: QtBot, tmp_path: Path, tiny_pix2pix: Path,
                                                              sketch_model: Path) -> None:
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_pix2pix, folder / "a-plain.safetensors")  # listed first: the window starts with it
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    assert [w.tabs.tabText(i) for i in (TAB_PREVIEW, TAB_SKETCH, TAB_BATCH, TAB_FINETUNE, TAB_LOG)] == [
        "Preview", "Sketch", "Batch", "Fine-tune", "Log"]
    assert w.session.model_path == folder / "a-plain.safetensors"
    w.tabs.setCurrentIndex(TAB_SKETCH)  # no model that takes sketches: the model stays, nothing is said
    assert w.session.model_path == folder / "a-plain.safetensors" and w.sketch.hint.text() == ""
    qtbot.waitUntil(lambda: w.sketch.result() is not None, timeout=TIMEOUT)
    w.close()

    shutil.copy(sketch_model, folder / "z-sketch.safetensors")
    w = MainWindow(QSettings(str(tmp_path / "settings2.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    assert w.session.model_path == folder / "a-plain.safetensors"
    assert w.sketch.translations_started == 0  # nothing is translated while the tab is hidden
    w.tabs.setCurrentIndex(TAB_SKETCH)
    assert w.session.model_path == folder / "z-sketch.safetensors"
    assert w.picker.current() == (folder / "z-sketch.safetensors", None)
    assert "tiny-sketch" in w.sketch.hint.text() and "dark blue lines" in w.sketch.hint.text()
    assert w.sketch.canvas.side() == 64 and (w.sketch.canvas.sketch() == colour(PAPER)).all()
    qtbot.waitUntil(lambda: w.sketch.result() is not None, timeout=TIMEOUT)
    assert w.sketch.translations_started == 1  # the model, its canvas and the tab shown: one translation
    w.picker.select(folder / "a-plain.safetensors")  # the user's choice stands
    w.tabs.setCurrentIndex(TAB_PREVIEW)
    w.tabs.setCurrentIndex(TAB_SKETCH)
    assert w.session.model_path == folder / "a-plain.safetensors" and "Switched" not in w.sketch.hint.text()
    qtbot.waitUntil(lambda: w.sketch.result() is not None and not w.sketch.jobs.is_busy(), timeout=TIMEOUT)
    w.close()

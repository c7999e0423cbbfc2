"""The history of runs in the app: the recorder (gui.history) records a real batch run and a real
fine-tuning run, the History panel lists and filters them, opens the output folder and runs an
entry again; an image carrying settings restores its model and settings into the session; the
main window's History tab, its drop handling and File ▸ Save output….
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDropEvent
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from gui.history import HistoryRecorder
from gui.main_window import MainWindow
from gui.session import Session
from gui.widgets.batch_panel import BatchPanel
from gui.widgets.history_panel import HistoryPanel
from gui.widgets.train_panel import TrainPanel
from translator import imaging
from translator.history import History
from translator.inference import InferenceOptions
from translator.model_cache import ModelCache
from translator.paths import user_data_dir, user_models_dir
from translator.provenance import Provenance, model_sha256, read_settings


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The history lives in a temporary data folder, never the user's."""
    monkeypatch.setenv("TRANSLATOR_DATA_DIR", str(tmp_path_factory.mktemp("user-data")))


class _App:
    """A session, a batch and a fine-tune panel, the history and its recorder and panel: what the
    main window wires together."""

    def __init__(self, qtbot: QtBot) -> None:
        self.session = Session()
        self.models = ModelCache()
        self.batch = BatchPanel(self.session, self.models.get)
        self.train = TrainPanel()
        self.history = History()
        self.recorder = HistoryRecorder(self.session, self.history, self.batch, self.train)
        self.panel = HistoryPanel(self.recorder)
        for w in (self.batch, self.train, self.panel):
            qtbot.addWidget(w)

    def run_batch(self, qtbot: QtBot, start: object) -> None:
        with qtbot.waitSignal(self.batch.finished, timeout=30000):
            start()  # type: ignore[operator]


@pytest.fixture()
def app(qtbot: QtBot) -> _App:
    a = _App(qtbot)
    yield a  # type: ignore[misc]
    a.history.close()


def _library_model(tiny_pix2pix: Path, name: str = "tiny-p2p.safetensors") -> Path:
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(tiny_pix2pix, folder / name))


def test_a_batch_run_is_recorded_listed_and_filtered(qtbot: QtBot, app: _App, tiny_pix2pix: Path, pairs: Path,
                                                     tmp_path: Path) -> None:
    model = _library_model(tiny_pix2pix)
    s = app.session
    s.set_model(model)
    s.set_input_folder(pairs)
    s.set_output_folder(tmp_path / "out")
    s.set_output_format("jpg")
    s.strength = 0.7
    s.update_options(mode="reference", seed=5)
    app.run_batch(qtbot, app.batch.start)
    qtbot.waitUntil(lambda: app.history.entries()[0].model_sha256 is not None, timeout=5000)  # hashed on a worker
    (e,) = app.history.entries()
    assert (e.kind, e.status, e.written, e.failed, e.inputs, e.output) == ("batch", "done", 3, 0, (pairs,), tmp_path / "out")
    assert e.model == "tiny-p2p" and e.model_path == model and e.model_sha256 == model_sha256(model)
    assert e.settings["strength"] == 0.7 and e.settings["options"]["mode"] == "reference"
    assert e.settings["model_sha256"] == e.model_sha256 and e.settings["output_format"] == "jpg"
    assert e.duration_s is not None and e.duration_s >= 0

    table = app.panel.table
    assert table.rowCount() == 1
    cells = [table.item(0, c).text() for c in range(table.columnCount())]
    assert cells[1:] == ["Batch", "tiny-p2p", str(pairs), str(tmp_path / "out"), cells[5], "3 / 0", cells[7], "done"]
    assert cells[5].startswith("strength 70 %")  # what tells runs apart; every setting is in its tooltip
    assert '"mode": "reference"' in table.item(0, 5).toolTip()
    app.panel.filter.setText("P2P")
    assert table.rowCount() == 1
    app.panel.filter.setText(str(pairs.parent.name))  # a folder's name
    assert table.rowCount() == 1
    app.panel.filter.setText("no such thing")
    assert table.rowCount() == 0
    app.panel.filter.clear()
    app.panel.kind.setCurrentIndex(app.panel.kind.findData("finetune"))
    assert table.rowCount() == 0
    app.panel.kind.setCurrentIndex(0)
    assert table.rowCount() == 1


def test_open_output_folder_and_run_again_through_the_session(qtbot: QtBot, app: _App, tiny_pix2pix: Path, pairs: Path,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _library_model(tiny_pix2pix)
    s = app.session
    s.set_model(model)
    s.set_input_folder(pairs)
    s.set_output_folder(tmp_path / "out")
    s.strength = 0.4
    s.update_options(tile=512)
    app.batch.recursive.setChecked(True)
    app.run_batch(qtbot, app.batch.start)
    first = {p.name: imaging.read_image(p).rgb for p in sorted((tmp_path / "out").iterdir())}

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)  # the desktop's file manager
    app.panel.table.selectRow(0)
    qtbot.mouseClick(app.panel.open_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(tmp_path / "out")]

    # The user moves on: another model choice, strength, folders, options; the outputs are removed.
    shutil.rmtree(tmp_path / "out")
    s.set_model(None)
    s.strength = 1.0
    s.update_options(tile="auto")
    s.set_input_folder(tmp_path)
    app.batch.recursive.setChecked(False)
    app.panel.table.selectRow(0)
    assert app.panel.again_button.isEnabled()
    app.run_batch(qtbot, lambda: qtbot.mouseClick(app.panel.again_button, Qt.MouseButton.LeftButton))
    assert (s.model_path, s.input_folder, s.output_folder, s.strength, s.options.tile) == (
        model, pairs, tmp_path / "out", 0.4, 512)
    assert app.batch.recursive.isChecked()
    again = {p.name: imaging.read_image(p).rgb for p in sorted((tmp_path / "out").iterdir())}
    assert again.keys() == first.keys() and all(np.array_equal(again[k], first[k]) for k in first)
    assert [e.status for e in app.history.entries()] == ["done", "done"]
    assert app.panel.table.rowCount() == 2


def test_run_again_says_why_it_cannot(qtbot: QtBot, app: _App, tiny_pix2pix: Path, pairs: Path, tmp_path: Path) -> None:
    model = _library_model(tiny_pix2pix, "gone.safetensors")
    app.session.set_model(model)
    app.session.set_input_folder(pairs)
    app.session.set_output_folder(tmp_path / "out")
    app.run_batch(qtbot, app.batch.start)
    qtbot.waitUntil(lambda: app.history.entries()[0].model_sha256 is not None, timeout=5000)
    model.unlink()
    app.panel.table.selectRow(0)
    app.panel.run_again()
    assert "gone.safetensors" in app.panel.message.text() and "import it again" in app.panel.message.text()
    assert not app.batch.is_running() and len(app.history.entries()) == 1


def test_a_finetuning_run_is_recorded_with_its_config(qtbot: QtBot, app: _App, tmp_path: Path,
                                                      photos: dict[str, np.ndarray]) -> None:
    data = tmp_path / "data"
    for side in ("A", "B"):
        (data / side).mkdir(parents=True)
    for i, img in enumerate(photos.values()):
        a = np.asarray(Image.fromarray(img[:200, :200]).resize((40, 40)))
        Image.fromarray(a).save(data / "A" / f"{i}.png")
        Image.fromarray(255 - a).save(data / "B" / f"{i}.png")
    t = app.train
    t.kind.setCurrentText("pix2pix")
    t.steps.setValue(1)
    t.name_edit.setText("history-run")
    t.config_overrides(generator="unet_32", base_filters=4, d_base_filters=4, load_size=36, crop_size=32, workers=0,
                       val_every=100, sample_every=100, checkpoint_every=100, ema=False, max_val=1)
    t.set_data_folder(data)
    qtbot.waitUntil(lambda: "pair" in t.data_info.text(), timeout=5000)
    with qtbot.waitSignal(t.stopped, timeout=30000):
        t.start()
    (e,) = app.history.entries(kind="finetune")
    assert (e.status, e.model, e.inputs, e.output, e.written) == ("done", "history-run", (data,), t.run_dir(), 1)
    assert e.settings["steps"] == 1 and e.settings["generator"] == "unet_32" and e.message == "1 steps"
    assert app.panel.table.item(0, 1).text() == "Fine-tune"


def test_a_saved_sketch_is_recorded(app: _App, tiny_pix2pix: Path, tmp_path: Path) -> None:
    app.session.set_model(_library_model(tiny_pix2pix))
    app.recorder.record_saved(tmp_path / "cat.png", tmp_path / "cat_result.png")
    (e,) = app.history.entries()
    assert (e.kind, e.status, e.output, e.model) == ("preview-save", "done", tmp_path / "cat_result.png", "tiny-p2p")
    app.panel.table.selectRow(0)
    assert not app.panel.again_button.isEnabled() and app.panel.open_button.isEnabled()
    assert app.panel.output_folder(e) == str(tmp_path)


def _made_with(path: Path, photo: np.ndarray, model: Path, **options: object) -> Path:
    settings = Provenance.from_options(InferenceOptions(**options), model_path=model, model_name="tiny-p2p",  # type: ignore[arg-type]
                                       direction="AtoB", strength=0.35, output_format="webp", quality=90)
    return imaging.write_image(path, photo, settings=settings)


def test_an_image_with_settings_restores_its_model_and_settings(qtbot: QtBot, app: _App, tiny_pix2pix: Path,
                                                                tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    library = _library_model(tiny_pix2pix, "renamed-in-library.safetensors")  # found by its sha256
    made = _made_with(tmp_path / "made.webp", photos["coffee"][::8, ::8], tiny_pix2pix, device="cuda", mode="reference",
                      seed=11, tile=1024, tile_stats="fast")
    s = app.session
    s.update_options(device="cpu")
    assert app.recorder.restore_from_image(made)
    qtbot.waitUntil(lambda: app.recorder.restores == 1, timeout=5000)
    assert s.model_path == library and s.direction == "AtoB" and s.strength == 0.35 and s.output_format == "webp"
    o = s.options
    assert (o.mode, o.seed, o.tile, o.tile_stats, o.device) == ("reference", 11, 1024, "fast", "cpu")  # not the device
    assert "restored the model renamed-in-library.safetensors" in app.panel.message.text()

    plain = tmp_path / "plain.png"
    Image.fromarray(photos["coffee"][::8, ::8]).save(plain)
    assert not app.recorder.restore_from_image(plain)  # opens as before


def test_a_model_not_in_the_library_is_said_and_the_settings_still_restored(
        qtbot: QtBot, app: _App, tiny_pix2pix: Path, tiny_cyclegan: Path, tmp_path: Path,
        photos: dict[str, np.ndarray]) -> None:
    elsewhere = Path(shutil.copy(tiny_pix2pix, tmp_path / "private.safetensors"))
    made = _made_with(tmp_path / "made.png", photos["chelsea"][::8, ::8], elsewhere, seed=3)
    app.session.set_model(tiny_cyclegan)
    assert app.recorder.restore_from_image(made)
    qtbot.waitUntil(lambda: app.recorder.restores == 1, timeout=5000)
    assert app.session.model_path == tiny_cyclegan and app.session.strength == 0.35 and app.session.options.seed == 3
    text = app.panel.message.text()
    assert "private.safetensors" in text and "not in your model folders" in text and "Import" in text


def test_a_damaged_history_is_moved_aside_and_said(qtbot: QtBot) -> None:
    user_data_dir().mkdir(parents=True, exist_ok=True)
    (user_data_dir() / "history.sqlite3").write_bytes(b"\x00garbage" * 100)
    a = _App(qtbot)
    try:
        a.recorder.say_notice()
        assert "moved to" in a.panel.message.text() and "corrupt-" in a.panel.message.text()
        assert a.panel.table.rowCount() == 0
    finally:
        a.history.close()


def test_the_window_has_a_history_tab_that_records_its_batch(qtbot: QtBot, window: MainWindow, pairs: Path,
                                                             tmp_path: Path) -> None:
    panel = window.history_panel
    assert isinstance(panel, HistoryPanel)
    assert "History" in [window.tabs.tabText(i) for i in range(window.tabs.count())]
    window.session.set_model(user_models_dir() / "tiny-p2p.safetensors")
    window.session.set_input_folder(pairs)
    window.session.set_output_folder(tmp_path / "out")
    with qtbot.waitSignal(window.batch.finished, timeout=30000):
        window.run_batch()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=5000)
    out = sorted((tmp_path / "out").iterdir())
    assert out and all(read_settings(p) is not None for p in out)  # the batch writes its settings into each output


def test_dropping_an_image_with_settings_restores_them(qtbot: QtBot, window: MainWindow, tiny_pix2pix: Path,
                                                       tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    made = _made_with(tmp_path / "shots" / "made.png", photos["coffee"][::8, ::8], tiny_pix2pix, seed=9)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(made))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session.options.seed == 9, timeout=5000)
    assert window.session.model_path == user_models_dir() / "tiny-p2p.safetensors" and window.session.strength == 0.35
    assert window.session.current_image == made  # and the image opens as before


def test_an_unwritable_data_folder_keeps_the_history_in_memory_and_says_so(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from gui.history import open_history

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TRANSLATOR_DATA_DIR", str(tmp_path / "a-file" / "data"))
    h = open_history()
    try:
        assert h.notice is not None and "a-file" in h.notice and "until the app closes" in h.notice
        h.record_start("batch", model="m")
        assert [e.model for e in h.entries()] == ["m"]
    finally:
        h.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_save_output_writes_what_the_preview_shows_with_its_settings_and_records_it(
        qtbot: QtBot, window: MainWindow, pairs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window.picker.select(user_models_dir() / "tiny-p2p.safetensors")
    window.session.set_strength(0.6)
    window.open_folder(pairs, pairs / "coffee.png")
    qtbot.waitUntil(lambda: window.preview.comparison is not None and not window.preview_jobs.is_busy(), timeout=30000)
    shown = window.preview.comparison
    assert shown is not None
    asked: list[str] = []

    def save_as(_parent: object, _title: str, start: str, _filters: str) -> tuple[str, str]:
        asked.append(start)
        return str(tmp_path / "saved" / "coffee-night.png"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    (tmp_path / "saved").mkdir()
    saved = window.save_output()
    assert saved == tmp_path / "saved" / "coffee-night.png"
    out = window.session.output_folder
    assert out is not None and asked == [str(out / "coffee_tiny-p2p.png")]  # in the output folder, named after both
    np.testing.assert_array_equal(imaging.read_image(saved).rgb, shown.output)  # at 60 %, as shown
    settings = read_settings(saved)
    assert settings is not None and settings.strength == 0.6 and settings.model == "tiny-p2p"
    entries = window.history.entries(kind="preview-save")
    assert [(e.inputs, e.output, e.settings["strength"]) for e in entries] == [((pairs / "coffee.png",), saved, 0.6)]

    before = (pairs / "coffee.png").read_bytes()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a: (str(pairs / "coffee.png"), ""))
    errors: list[str] = []
    monkeypatch.setattr(window, "show_error", errors.append)
    assert window.save_output() is None
    assert (pairs / "coffee.png").read_bytes() == before and "is the input image" in errors[0]

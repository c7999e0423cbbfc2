""""Get models…" through the real main window (offscreen) against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from pytestqt.qtbot import QtBot

from gui.main_window import MainWindow
from gui.widgets.zoo_dialog import ARCHITECTURE, INSTALLED, KIND, MODEL, TASK, ZooDialog
from translator._fs import PARTIAL_PREFIX
from translator.paths import user_models_dir
from translator.zoo import list_models

REF = Path(__file__).parent.parent / "data" / "reference"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture()
def zoo_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A mirror of the model site serving one CycleGAN generator (horse2zebra); other names 404.
    TRANSLATOR_ZOO_BASE points the app at it."""
    root = tmp_path / "site"
    (root / "cyclegan" / "pretrained_models").mkdir(parents=True)
    (root / "cyclegan" / "pretrained_models" / "horse2zebra.pth").write_bytes((REF / "resnet_6blocks_ngf8_instance_net_G.pth").read_bytes())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", f"http://127.0.0.1:{httpd.server_address[1]}")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    yield root
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture()
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    return w


def _get_models_action(window: MainWindow) -> None:
    actions = [a for menu in window.menuBar().actions() if menu.menu() for a in menu.menu().actions()]  # type: ignore[union-attr]
    [action] = [a for a in actions if a.text() == "Get models…"]
    action.trigger()


def test_downloaded_model_lands_in_the_models_folder_and_the_picker(qtbot: QtBot, window: MainWindow, zoo_site: Path) -> None:
    _get_models_action(window)
    [dialog] = window.findChildren(ZooDialog)
    assert dialog.isVisible() and dialog.table.rowCount() == 23
    names = [dialog.table.item(r, MODEL).text() for r in range(dialog.table.rowCount())]
    assert "horse2zebra" in names and "pix2pix/sat2map" in names and "cyclegan/sat2map" in names
    row = names.index("horse2zebra")
    assert dialog.table.item(row, TASK).text() == "horse → zebra" and "ResNet 9 blocks" in dialog.table.item(row, ARCHITECTURE).text()

    with qtbot.waitSignal(dialog.modelDownloaded, timeout=10000) as saved:
        dialog.download("horse2zebra")
        assert dialog.is_running() and not dialog.download_button.isEnabled()
    path = saved.args[0]
    assert path == user_models_dir() / "horse2zebra.safetensors" and path.exists()
    assert not [p for p in user_models_dir().iterdir() if p.name.startswith(PARTIAL_PREFIX)]
    assert (path, "AtoB") in window.picker.entries() and window.picker.current() == (path, "AtoB")
    assert "horse2zebra" in window.picker.details.text()
    assert "Saved horse2zebra" in dialog.status.text() and dialog.table.item(row, INSTALLED).text() == "yes"
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=2000)
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    dialog.reject()


def test_a_failed_download_shows_a_message_not_a_traceback(qtbot: QtBot, window: MainWindow, zoo_site: Path) -> None:
    dialog = window.open_zoo()
    with qtbot.waitSignal(dialog.downloadFailed, timeout=10000) as failed:
        dialog.download("zebra2horse")  # not on the site: 404
    message = failed.args[0]
    assert message == dialog.status.text() and "zoo model zebra2horse" in message and "HTTP 404" in message
    assert "Traceback" not in message and "color" in dialog.status.styleSheet()
    assert not list(user_models_dir().glob("*.safetensors")) and window.picker.entries() == []
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=2000)
    dialog.reject()


def test_the_table_shows_each_task_whole_at_the_default_size(qtbot: QtBot) -> None:
    """Each row leads with what the model turns into what, from the catalogue's domains, uncut
    and without scrolling at the dialog's default size; the technical name follows, secondary."""
    base = "http://127.0.0.1:9"  # listing the catalogue makes no request
    dialog = ZooDialog(base=base)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.table
    entries = list_models(base)
    assert table.rowCount() == len(entries) == 23
    assert [table.horizontalHeaderItem(c).text() for c in (TASK, MODEL, KIND)] == ["Task", "Model", "Kind"]
    assert not table.horizontalScrollBar().isVisible()
    metrics = table.fontMetrics()
    for col in (TASK, MODEL, KIND, INSTALLED):  # each wholly inside the view
        assert table.columnViewportPosition(col) + table.columnWidth(col) <= table.viewport().width(), col
    for row, entry in enumerate(entries):
        task = table.item(row, TASK).text()
        assert task == f"{entry.domains[0]} → {entry.domains[1]}"  # e.g. "satellite photo → map"
        assert metrics.horizontalAdvance(task) < table.columnWidth(TASK)  # not elided
        assert metrics.horizontalAdvance(table.item(row, MODEL).text()) < table.columnWidth(MODEL)
        assert table.item(row, MODEL).text() == entry.name and table.item(row, KIND).text() in ("pix2pix", "CycleGAN")
        assert entry.url in table.item(row, TASK).toolTip() and entry.architecture in table.item(row, ARCHITECTURE).toolTip()
    text_colour = dialog.palette().color(QPalette.ColorRole.Text)
    assert table.item(0, TASK).foreground().style() == Qt.BrushStyle.NoBrush  # the task: the normal text colour
    assert table.item(0, MODEL).foreground().color() != text_colour  # the technical name: secondary
    sat2map = [table.item(r, TASK).text() for r in range(table.rowCount()) if "sat2map" in table.item(r, MODEL).text()]
    assert sat2map == ["satellite photo → map", "satellite photo → map"]  # pix2pix's and CycleGAN's

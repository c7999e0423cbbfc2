"""Untrusted text in the app is shown as text: a model card (from a file anyone can make), a file
or folder name, a message quoting them. Qt would read any such string that looks like HTML as rich
text — a card's `<img src="file:///…">` loads and draws a local file, `<b>Verified…</b>` passes
for the app's own formatting — and a bidi override would let a name fake its suffix.

Each test makes a real hostile file or folder, shows it through the real window (conftest's
`window`, offscreen), and checks what a reader sees: every label, tooltip and list entry carrying
the hostile text shows its characters literally, and the secret picture it points to (a real
PNG, solid magenta) is never drawn — grabbed widgets and tooltips have no magenta pixel.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtGui
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QToolTip, QWidget
from pytestqt.qtbot import QtBot
from safetensors import safe_open
from safetensors.torch import save_file

from gui.main_window import MainWindow
from gui.plain import PlainLabel, literal, visible
from gui.widgets.zoo_dialog import ZooDialog
from translator.checkpoint import CARD_KEY
from translator.paths import user_models_dir

MAGENTA = (255, 0, 255)
NAME = "evil <i>x</i>"
FILE_NAME = "evil <b>x.safetensors"  # a file name cannot hold "/"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "report\u202eexe.png" reads as "reportgnp.exe"


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    """A real PNG a hostile text points at: solid magenta, so any drawing of it is easy to find."""
    path = tmp_path / "secret" / "secret.png"
    path.parent.mkdir()
    Image.fromarray(np.full((40, 40, 3), MAGENTA, np.uint8)).save(path)
    return path


def _img(secret: Path) -> str:
    return f'<img src="file://{secret}">'


def _hostile_model(tiny_pix2pix: Path, secret: Path) -> Path:
    """tiny_pix2pix's weights under a card whose name, task, steps and input look are HTML, in a
    file whose own name is HTML too."""
    with safe_open(str(tiny_pix2pix), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        card = json.loads(f.metadata()[CARD_KEY])
    card.update(name=NAME, task=f"{_img(secret)} <b>Verified by the tool authors</b>",
                training={"steps": _img(secret)},
                input_style={"description": f"{_img(secret)} lines", "ink": "#000000", "paper": "#ffffff", "line_width": 2.0})
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    save_file(tensors, str(path), metadata={CARD_KEY: json.dumps(card)})
    return path


def _shown(text: str, fmt: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """What a reader sees of `text` in a widget with text format `fmt` (AutoText: Qt's own guess,
    as tooltips, message boxes and labels left alone make it)."""
    rich = fmt == Qt.TextFormat.RichText or (fmt == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text))
    if not rich:
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def _magenta(widget: QWidget) -> int:
    """How many pixels of the widget, as drawn now, are the secret picture's magenta."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rgb = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :w * 3].reshape(h, w, 3)
    return int(np.all(rgb == MAGENTA, axis=-1).sum())


def _tooltip_magenta(text: str, owner: QWidget) -> int:
    """Show `text` as the tooltip of `owner` and count the magenta pixels of the tooltip drawn."""
    QToolTip.showText(owner.mapToGlobal(QPoint(2, 2)), text, owner)
    QApplication.processEvents()
    [tip] = [w for w in QApplication.topLevelWidgets() if w.objectName() == "qtooltip_label"]
    count = _magenta(tip)
    QToolTip.hideText()
    return count


def _carriers(root: QWidget, needle: str) -> list[tuple[QWidget, str, str]]:
    """(widget, what, what a reader sees) for each label text and tooltip under `root` that
    carries `needle` in any form (as written, escaped, or dropped by a rich-text reading)."""
    found = []
    for widget in [root, *root.findChildren(QWidget)]:
        if isinstance(widget, QLabel) and needle in widget.text() + _shown(widget.text(), widget.textFormat()):
            found.append((widget, "text", _shown(widget.text(), widget.textFormat())))
        tip = widget.toolTip()
        if needle in tip + _shown(tip):
            found.append((widget, "tooltip", _shown(tip)))
    return found


def _select(window: MainWindow, path: Path) -> None:
    """Pick the model in the side bar's menu, as a user does."""
    [index] = [i for i, (p, _d) in enumerate(window.picker.entries()) if p == path]
    window.picker.combo.setCurrentIndex(index)


# the model card ---------------------------------------------------------------------------------
def test_a_model_card_shows_as_text_in_the_picker_and_never_loads_its_image(
        qtbot: QtBot, window: MainWindow, tiny_pix2pix: Path, secret: Path) -> None:
    hostile = _hostile_model(tiny_pix2pix, secret)
    window.picker.refresh()
    _select(window, hostile)
    assert window.session.model_path == hostile
    details = window.picker.details

    # the name and task read as written: markup shown, not obeyed
    heading = _shown(details.text(), details.textFormat())
    assert f"{NAME} — pix2pix: {_img(secret)} <b>Verified by the tool authors</b>" in heading
    summary = _shown(details.toolTip())
    assert f"{NAME} — pix2pix: {_img(secret)}" in summary and f"trained {_img(secret)} steps" in summary
    assert "&lt;img" in details.toolTip() and "<img" not in details.toolTip()
    assert window.picker.combo.currentText() == NAME
    # and the picture is never drawn, in the label or its tooltip
    details.resize(600, 120)
    assert _magenta(details) == 0
    assert _tooltip_magenta(details.toolTip(), details) == 0


def test_nothing_in_the_side_bar_or_fine_tune_tab_renders_a_card_or_file_name_as_html(
        qtbot: QtBot, window: MainWindow, tiny_pix2pix: Path, secret: Path) -> None:
    hostile = _hostile_model(tiny_pix2pix, secret)
    window.picker.refresh()
    _select(window, hostile)
    for panel in (window.library, window.train_panel):
        carriers = _carriers(panel, "img") + _carriers(panel, "<i>x</i>") + _carriers(panel, "<b>x")
        assert carriers, "the card should show somewhere in the side bar"
        for widget, what, seen in carriers:
            assert "<img" in seen or "<i>x</i>" in seen or "<b>x" in seen, (type(widget).__name__, what, seen)
            assert "\ufffc" not in seen  # an object replacement character: an image (or other object) was laid out
    assert window.train_panel.start_model_label.text() == f"{FILE_NAME} (pix2pix)"
    assert window.train_panel.start_model_label.textFormat() == Qt.TextFormat.PlainText


def test_no_label_or_tooltip_in_the_window_renders_a_card_or_file_name_as_html(
        qtbot: QtBot, window: MainWindow, tiny_pix2pix: Path, secret: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = _hostile_model(tiny_pix2pix, secret)
    window.picker.refresh()
    _select(window, hostile)
    monkeypatch.chdir(secret.parent)
    folder = secret.parent.parent / '<img src="secret.png"> <b>Verified'  # no "/": a name cannot hold one
    folder.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(folder / "<b>grey.png")
    window.open_folder(folder, folder / "<b>grey.png")
    qtbot.waitUntil(lambda: window.preview.comparison is not None, timeout=20000)
    hostile_texts = ("<img", "<i>x</i>", "<b>x", "<b>grey", "<b>Verified")
    carriers = {(id(w), what): (w, what, seen)
                for needle in ("img", "<i>x</i>", "<b>x", "grey", "Verified") for w, what, seen in _carriers(window, needle)}
    wrong = [(type(w.parent()).__name__, what, seen) for w, what, seen in carriers.values()
             if "\ufffc" in seen or not any(t in seen for t in hostile_texts)]
    assert not wrong


# file and folder names -------------------------------------------------------------------------
def test_a_folder_name_that_is_html_shows_as_text_and_loads_nothing(
        qtbot: QtBot, window: MainWindow, secret: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(secret.parent)  # a relative <img src> resolves against the working folder
    folder = secret.parent.parent / '<img src="secret.png"> <b>Verified'  # no "/": a name cannot hold one
    folder.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(folder / "grey.png")
    window.open_folder(folder)
    label = window.library.folder_label
    label.resize(500, 80)
    assert _shown(label.text(), label.textFormat()) == str(folder)
    assert _magenta(label) == 0
    tip = window.strip.model().data(window.strip.model().index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert _shown(tip) == str(folder / "grey.png")
    assert _tooltip_magenta(tip, window.strip) == 0


def test_a_file_name_cannot_fake_its_suffix_with_a_bidi_override_or_hide_a_byte(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / f"photos{RLO}"
    folder.mkdir()
    grey = Image.fromarray(np.full((32, 32, 3), 90, np.uint8))
    grey.save(folder / f"report{RLO}exe.png")
    with open(os.fsencode(folder) + b"/caf\xff.png", "wb") as f:  # not UTF-8: Python holds it as "\udcff"
        grey.save(f, format="PNG")
    window.open_folder(folder)
    model = window.strip.model()
    names = [model.data(model.index(row, 0, QModelIndex())) for row in range(model.rowCount())]
    assert sorted(names) == sorted(["caf\\xff.png", "report\\u202eexe.png"])  # every character shown, none reordering
    assert window.library.folder_label.text() == f"{tmp_path}/photos\\u202e"


# messages that quote names ---------------------------------------------------------------------------
def test_a_zoo_message_quoting_html_shows_as_text(qtbot: QtBot, secret: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", f"{_img(secret)} <b>Verified</b>")
    dialog = ZooDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert _img(secret) in _shown(dialog.status.text(), dialog.status.textFormat())  # the refused address, named
    assert _magenta(dialog.status) == 0


def test_the_text_helpers_show_every_character_and_leave_plain_text_alone(qtbot: QtBot) -> None:
    assert literal("photo.png: cannot read\nconvert it") == "photo.png: cannot read\nconvert it"
    assert _shown(literal("<b>bold</b> & <img src=x>\nline 2")) == "<b>bold</b> & <img src=x>\nline 2"
    assert visible("a\x1b[31mb\tc\nd") == "a\\x1b[31mb\\tc\\nd"
    assert visible("a\tb\nc\u2028d", lines=True) == "a\tb\nc\\u2028d"
    label = PlainLabel(f"<b>x</b>{RLO}y")
    assert label.textFormat() == Qt.TextFormat.PlainText and label.text() == "<b>x</b>\\u202ey"


def test_a_dataset_folder_named_like_html_shows_as_text_in_fine_tune(
        qtbot: QtBot, window: MainWindow, secret: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(secret.parent)
    folder = secret.parent.parent / '<img src="secret.png"> <b>empty'  # nothing to train on: the report names it
    folder.mkdir()
    panel = window.train_panel
    panel.set_data_folder(folder)
    qtbot.waitUntil(lambda: panel.data_info.text() not in ("", "scanning…"), timeout=10000)
    report = _shown(panel.data_info.text(), panel.data_info.textFormat())
    assert str(folder) in report and _shown(panel.data_info.toolTip()) == report
    panel.data_info.resize(600, 120)
    assert _magenta(panel.data_info) == 0
    assert _tooltip_magenta(panel.data_info.toolTip(), panel.data_info) == 0

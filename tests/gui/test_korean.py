"""The app in Korean: every text a user sees in the main window, its tabs, menus and dialogs is
translated (names excepted), English stays the default, the language choice is remembered, and no
label or button is clipped at 1400×900.

The walk reads texts from real widgets (labels, buttons, actions, group boxes, tab bars, combo
boxes, placeholders, tooltips, window titles, the image views' painted captions) and strips an
explicit, short allow-list of names before looking for Latin letters.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractButton, QApplication, QComboBox, QFileDialog, QGroupBox, QInputDialog, QLabel,
                               QLineEdit, QMenu, QMessageBox, QTabBar, QWidget)
from pytestqt.qtbot import QtBot

from gui import i18n
from gui.main_window import TAB_PREVIEW, MainWindow
from gui.widgets.curves import CurvePlot
from gui.widgets.image_view import ImageView
from gui.widgets.zoo_dialog import TASK, ZooDialog
from translator.checkpoint import describe_spec, read_card
from translator.paths import user_models_dir

ALLOWED = (
    # units, figures and formats
    "best-kid.safetensors",  # a file name the Fine-tune tab promises
    "PSNR", "SSIM", "KID", "FID", "dB", "px", "MB", "PNG", "sha256", "L1", "r_t", "EMA", "png", "jpg", "webp", "tif", "bmp",
    # devices and precisions
    "GPU", "CPU", "CUDA", "MPS", "AVX512-BF16", "AMX", "bf16", "fp32", "fp16", "DSLR",
    # model kinds, networks and the reference's names
    "pix2pix", "CycleGAN", "cyclegan", "PatchGAN", "Canny", "edges2shoes", "test.py", "README", "translator zoo get",
    # dataset folder layouts (trainA/ before A/: the longer name first)
    "trainA/", "trainB/", "A/", "B/", "AB",
    # a language named in itself (View ▸ Language ▸ English)
    "English",
)
FILE_PATTERN = re.compile(r"\*[\w.]*")  # *.pth, *_net_G.pth in file filters and hints
MNEMONIC = re.compile(r"\(&?[A-Za-z]\)")  # 파일(&F): the menu's keyboard letter (its tooltip drops the &)
PATH = re.compile(r"(?<!\S)/[^\s()]+")  # a file or folder (the test's, and the models folder)
TAGS = re.compile(r"<[^>]+>")


@pytest.fixture()
def korean(qapp: QApplication) -> Iterator[None]:
    """The Korean translation installed (conftest puts English back after the test)."""
    assert i18n.install(qapp, "ko") == "ko"
    yield


@pytest.fixture()
def ko_window(korean: None, qtbot: QtBot, tiny_pix2pix: Path, tmp_path: Path, pairs: Path) -> MainWindow:
    """The main window built in Korean, with a model and a folder of photos (and their targets) open."""
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_pix2pix, folder / "tiny-p2p.safetensors")
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    w.open_folder(pairs)
    qtbot.waitUntil(lambda: w.preview.comparison is not None, timeout=30000)
    return w


def _names(window: MainWindow, tmp_path: Path) -> list[str]:
    """What may appear untranslated besides ALLOWED: folder and file names, model names, the
    model's card values and the engine's description of its networks."""
    names = [str(tmp_path)]
    names += [p.name for p in (tmp_path / "data").rglob("*")]
    for path, _direction in window.picker.entries():
        card = read_card(path)
        names += [card.name, card.task or "", path.name]
        names += [f"{role}: {describe_spec(spec)}" for role, spec in card.generators.items()]
    return sorted((n for n in names if n), key=len, reverse=True)  # longest first: a name inside another


def _texts(root: QWidget) -> list[tuple[str, str]]:
    """(where, text) for every text of `root` and the widgets and actions inside it."""
    found: list[tuple[str, str]] = [("window title", root.windowTitle())]
    for w in [root, *root.findChildren(QWidget)]:
        kind = type(w).__name__
        found.append((f"{kind} tooltip", w.toolTip()))
        if isinstance(w, QLabel):
            found.append((kind, w.text()))
        if isinstance(w, QAbstractButton):
            found.append((kind, w.text()))
        if isinstance(w, QGroupBox):
            found.append((kind, w.title()))
        if isinstance(w, QLineEdit) and not w.text():
            found.append((f"{kind} placeholder", w.placeholderText()))
        if isinstance(w, QTabBar):
            found += [(kind, w.tabText(i)) for i in range(w.count())]
        if isinstance(w, QComboBox):
            found += [(f"{kind} item", w.itemText(i)) for i in range(w.count())]
            found += [(f"{kind} item tooltip", str(w.itemData(i, 3) or "")) for i in range(w.count())]  # ToolTipRole
        if isinstance(w, ImageView):
            found += [("image caption", w.caption()), ("image placeholder", w.placeholder())]
        if isinstance(w, CurvePlot):
            found.append(("plot axis", w._plot.getAxis("bottom").labelText))
        for action in w.actions():
            found += _action_texts(action)
    return [(where, text) for where, text in found if text]


def _action_texts(action: QAction) -> list[tuple[str, str]]:
    found = [("action", action.text()), ("action tooltip", action.toolTip())]
    if (menu := action.menu()) is not None and isinstance(menu, QMenu):
        found.append(("menu", menu.title()))
        for sub in menu.actions():
            found += _action_texts(sub)
    return found


def _untranslated(texts: list[tuple[str, str]], names: list[str]) -> list[tuple[str, str]]:
    """The texts with Latin letters left once names, the allow-list, file patterns and markup are removed."""
    left = []
    for where, text in texts:
        rest = TAGS.sub(" ", text).replace("&nbsp;", " ").replace("&lt;", "").replace("&gt;", "")
        for name in sorted([*names, *ALLOWED], key=len, reverse=True):  # a name inside a longer one goes with it
            rest = rest.replace(name, " ")
        rest = MNEMONIC.sub(" ", FILE_PATTERN.sub(" ", PATH.sub(" ", rest)))
        if re.search(r"[A-Za-z]", rest):
            left.append((where, text))
    return left


def test_every_text_of_the_window_its_tabs_menus_and_dialogs_is_korean(
        ko_window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = ko_window
    names = _names(w, tmp_path)
    texts: list[tuple[str, str]] = []
    for index in range(w.tabs.count()):
        w.tabs.setCurrentIndex(index)
        texts += _texts(w)
    w.tabs.setCurrentIndex(TAB_PREVIEW)
    w.library.options.advanced.set_expanded(True)
    w.train_panel.advanced.set_expanded(True)
    texts += [("menu", a.text()) for a in w.menuBar().actions()]
    for action in w.menuBar().actions():
        texts += _action_texts(action)

    zoo = w.open_zoo()
    assert isinstance(zoo, ZooDialog)
    texts += _texts(zoo)
    texts += [("zoo header", zoo.table.horizontalHeaderItem(c).text()) for c in range(zoo.table.columnCount())]
    texts += [("zoo header tooltip", zoo.table.horizontalHeaderItem(c).toolTip()) for c in range(zoo.table.columnCount())]
    texts += [("zoo task", zoo.table.item(r, TASK).text()) for r in range(zoo.table.rowCount())]  # every catalogue task
    assert zoo.table.rowCount() >= 20
    zoo.reject()

    # The import dialogs and message boxes are modal: record what they would show.
    asked: list[tuple[str, str]] = []

    def open_files(_parent: Any, title: str, _start: str, filters: str, *_a: Any) -> tuple[list[str], str]:
        asked.extend([("file dialog title", title), ("file dialog filter", filters)])
        return [str(tmp_path / "latest_net_G.pth")], ""

    def get_item(_parent: Any, title: str, label: str, *_a: Any) -> tuple[str, bool]:
        asked.extend([("input dialog title", title), ("input dialog label", label)])
        return "", False

    def message(_parent: Any, title: str, text: str, *_a: Any) -> QMessageBox.StandardButton:
        asked.extend([("message title", title), ("message", text)])
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", open_files)
    monkeypatch.setattr(QInputDialog, "getItem", get_item)
    monkeypatch.setattr(QMessageBox, "information", message)
    monkeypatch.setattr(QMessageBox, "question", message)
    w.picker.ask_import()
    w.set_language("en")  # says the new language applies at the next start
    assert w.picker._replace("tiny-p2p", tmp_path / "tiny-p2p.safetensors") is False
    assert [where for where, _ in asked] == ["file dialog title", "file dialog filter", "input dialog title",
                                             "input dialog label", "message title", "message", "message title", "message"]
    texts += asked

    assert len(texts) > 300  # the walk saw the window, not an empty shell
    left = _untranslated(texts, names)
    assert left == [], "\n".join(f"{where}: {text!r}" for where, text in sorted(set(left)))
    assert ("QTabBar", "미세 조정") in texts and ("action", "일괄 처리 실행") in texts


def test_english_by_default_and_the_language_choice_is_remembered(
        window: MainWindow, qtbot: QtBot, qapp: QApplication, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["Preview", "Sketch", "Batch", "Fine-tune", "History", "Log"]
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text, *_a: said.append(text))
    assert window.language_actions[i18n.SYSTEM].isChecked()  # nothing stored yet: the system's language

    window.language_actions["ko"].trigger()  # View ▸ Language ▸ 한국어
    assert window.settings.value(i18n.KEY_LANGUAGE) == "ko"
    assert said == ["The new language applies the next time you start Image Translator."]
    stored = QSettings(window.settings.fileName(), QSettings.Format.IniFormat)  # as the next start reads it
    assert i18n.stored_setting(stored) == "ko" and i18n.resolve(stored.value(i18n.KEY_LANGUAGE)) == "ko"

    # the next start: the translators go in before the window is built, which then speaks Korean
    i18n.install(qapp, i18n.resolve(stored.value(i18n.KEY_LANGUAGE)))
    again = MainWindow(stored)
    qtbot.addWidget(again)
    assert [again.tabs.tabText(i) for i in range(again.tabs.count())] == ["미리보기", "스케치", "일괄 처리", "미세 조정", "기록", "로그"]
    assert again.language_actions["ko"].isChecked()
    assert [a.text() for a in again.menuBar().actions()] == ["파일(&F)", "보기(&V)"]
    # Qt's own strings come in Korean too (qtbase_ko.qm, shipped with PySide6)
    assert QApplication.translate("QPlatformTheme", "Cancel") == "취소"

    again.language_actions["en"].trigger()
    assert stored.value(i18n.KEY_LANGUAGE) == "en" and len(said) == 2


def test_system_language_decides_when_nothing_is_chosen() -> None:
    from PySide6.QtCore import QLocale

    korean, german = QLocale(QLocale.Language.Korean), QLocale(QLocale.Language.German)
    assert i18n.resolve(None, korean) == "ko" and i18n.resolve("system", korean) == "ko"
    assert i18n.resolve(None, german) == "en"  # a language the app does not ship: English
    assert i18n.resolve("en", korean) == "en" and i18n.resolve("ko", german) == "ko"
    assert i18n.resolve("klingon", korean) == "ko"  # an unknown stored value counts as "system"


def _clipped(root: QWidget) -> list[tuple[str, str, int, int]]:
    """Visible one-line labels and buttons whose text needs more width than they have."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0:
            continue
        if isinstance(w, QLabel) and not w.wordWrap() and w.text() and w.pixmap().isNull():
            need = w.sizeHint().width()
        elif isinstance(w, QAbstractButton) and w.text():
            need = w.sizeHint().width()
        else:
            continue
        if need > w.width() + 1:
            out.append((type(w).__name__, w.text(), need, w.width()))
    return out


@pytest.mark.parametrize("size", [(1400, 900), (1280, 720)])
def test_no_korean_label_or_button_is_clipped(ko_window: MainWindow, qtbot: QtBot, size: tuple[int, int]) -> None:
    w = ko_window
    w.resize(*size)
    w.library.options.advanced.set_expanded(True)
    w.train_panel.advanced.set_expanded(True)
    checked = 0
    for index in range(w.tabs.count()):
        w.tabs.setCurrentIndex(index)
        qtbot.wait(20)  # let the layouts settle
        assert _clipped(w) == [], f"tab {w.tabs.tabText(index)} at {size}"
        checked += 1
    assert checked == w.tabs.count() >= 5

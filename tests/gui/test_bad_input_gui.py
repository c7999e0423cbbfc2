"""The app over the bad-input corpus (tests/data/bad): the batch finishes and lists each bad file
with its reason, the thumbnails carry each bad file's error as their tooltip, and the preview of
a bad file shows its error — nothing crashes, nothing is left running."""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from gui.main_window import TAB_PREVIEW, MainWindow


def _load_make_bad() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "data" / "bad" / "make_bad.py"
    spec = importlib.util.spec_from_file_location("make_bad", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_bad = _load_make_bad()
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _assert_reason(message: str, path: Path) -> None:
    assert message.startswith(f"{path}: "), message
    assert re.search(make_bad.REASONS[path.name], message), message


def test_batch_thumbnails_and_preview_over_the_bad_folder(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = make_bad.make_corpus(tmp_path / "bad", unreadable=not AS_ROOT)
    bad = {p.name for p in folder.iterdir() if p.name in make_bad.REASONS}
    window.open_folder(folder)
    assert sorted(p.name for p in window.strip.paths()) == sorted(p.name for p in folder.iterdir())  # none lost

    # The batch: finishes, translates every good file, lists every bad one with its reason.
    out = tmp_path / "out"
    window.batch.output.setText(str(out))
    with qtbot.waitSignal(window.batch.finished, timeout=60000) as done:
        window.run_batch()
    summary = done.args[0]
    assert summary is not None and len(summary.written) == len(make_bad.GOOD)
    assert sorted(f.item.name for f in summary.failed) == sorted(bad)
    listed = [window.batch.failures.item(i).text() for i in range(window.batch.failures.count())]
    assert len(listed) == len(bad)
    for name in bad:
        _assert_reason(next(t for t in listed if t.startswith(f"{folder / name}: ")), folder / name)
    assert window.batch.rate.text() == f"written {len(make_bad.GOOD)}, skipped 0 (already done), failed {len(bad)}"

    # The thumbnails: ask for every row's picture, as the view does for the rows it shows.
    thumbs = window.strip.thumbs
    for row in range(thumbs.rowCount()):
        thumbs.data(thumbs.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: thumbs.loaded_count() == thumbs.rowCount(), timeout=30000)
    for row, path in enumerate(thumbs.paths()):
        tip = thumbs.data(thumbs.index(row), Qt.ItemDataRole.ToolTipRole)
        assert isinstance(tip, str)
        if path.name in bad:
            _assert_reason(tip, path)
        else:
            assert tip == str(path) and path in thumbs._pixmaps, path.name

    # The preview (its tab shown again: the batch switched to its own): a bad file shows its
    # error; the 1×1 image (too small for D's verdict) its output.
    window.tabs.setCurrentIndex(TAB_PREVIEW)
    window.strip.select(folder / "webpage.jpg")
    qtbot.waitUntil(lambda: "it looks like an HTML web page" in window.preview.status.text(), timeout=20000)
    _assert_reason(window.preview.status.text(), folder / "webpage.jpg")
    window.strip.select(folder / "tiny_1x1.png")
    qtbot.waitUntil(lambda: window.preview.status.text() == "tiny_1x1.png (1×1)", timeout=20000)
    assert window.preview.comparison is not None and window.preview.comparison.verdict_output is None
    qtbot.waitUntil(lambda: not window.preview_jobs.is_busy(), timeout=20000)
    qtbot.waitUntil(lambda: thumbs._worker is None, timeout=10000)

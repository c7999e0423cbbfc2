"""The input strip opens big folders at once and loads only the thumbnails it shows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pytestqt.qtbot import QtBot

from gui.widgets.thumbnails import ThumbnailStrip


def test_two_thousand_files_load_lazily(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    small = Image.fromarray(photos["chelsea"]).resize((48, 32))
    for i in range(2000):
        small.save(tmp_path / f"{i:04d}.png")
    (tmp_path / "broken.png").write_text("not an image")
    strip = ThumbnailStrip()
    qtbot.addWidget(strip)
    strip.resize(220, 400)
    strip.show()
    strip.set_folder(tmp_path)
    assert strip.thumbs.rowCount() == 2001 and strip.current_path() == tmp_path / "0000.png"
    qtbot.waitUntil(lambda: strip.thumbs.loaded_count() >= 3, timeout=10000)
    qtbot.wait(300)
    assert strip.thumbs.loaded_count() < 100  # only what is on screen (plus a batch), not 2001 files
    # scrolling to the end loads the last ones, including the unreadable file's error as tooltip
    strip.select(tmp_path / "broken.png")
    strip.scrollToBottom()

    def broken_reported() -> bool:
        tip = strip.thumbs.data(strip.thumbs.index(2000), 3)  # Qt.ToolTipRole
        return isinstance(tip, str) and "broken.png" in tip and "not" in tip

    qtbot.waitUntil(broken_reported, timeout=10000)
    qtbot.waitUntil(lambda: strip.thumbs._worker is None, timeout=10000)
    strip.step(-1)
    assert strip.current_path() == tmp_path / "1999.png"

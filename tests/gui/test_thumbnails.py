"""The input strip opens big folders at once, loads only the thumbnails it shows, and marks the
files it cannot read: a broken tile, the name in the warning colour, the reason on hover."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QImage, QPixmap
from pytestqt.qtbot import QtBot

from gui.widgets.thumbnails import THUMB, WARNING, ThumbnailStrip


def _load_until_idle(qtbot: QtBot, strip: ThumbnailStrip) -> list[Path]:
    """Wait for each `thumbnailsLoaded` batch until nothing more is loading; the paths loaded."""
    loaded: list[Path] = []
    while strip.thumbs.is_loading():
        with qtbot.waitSignal(strip.thumbnailsLoaded, timeout=10000) as batch:
            pass
        loaded += batch.args[0]
    return loaded


def _rgb(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(rgb.constBits(), np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    return rows[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3).copy()


def _warning_pixels(image: QImage) -> int:
    target = np.array([WARNING.red(), WARNING.green(), WARNING.blue()])
    return int((np.abs(_rgb(image).astype(int) - target).max(axis=2) <= 30).sum())


def test_two_thousand_files_load_lazily(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    small = Image.fromarray(photos["chelsea"]).resize((48, 32))
    for i in range(2000):
        small.save(tmp_path / f"{i:04d}.png")
    broken = tmp_path / "1000_broken.png"  # row 1001, far below the fold
    broken.write_text("not an image")
    strip = ThumbnailStrip()
    qtbot.addWidget(strip)
    strip.resize(220, 400)
    strip.show()
    with qtbot.waitSignal(strip.thumbnailsLoaded, timeout=10000) as first:
        strip.set_folder(tmp_path)
        assert strip.thumbs.rowCount() == 2001 and strip.current_path() == tmp_path / "0000.png"
    loaded = first.args[0] + _load_until_idle(qtbot, strip)
    # only what is on screen (plus a batch), not 2001 files
    assert tmp_path / "0000.png" in loaded and 3 <= len(loaded) == strip.thumbs.loaded_count() < 100
    assert strip.error_for(broken) is None  # not tried yet
    # scrolling to it loads the rows there, the unreadable file reported with its reason
    with qtbot.waitSignal(strip.thumbnailFailed, timeout=10000) as failed:
        strip.select(broken)
        strip.scrollTo(strip.currentIndex())
    path, message = failed.args
    assert path == broken and message.startswith(f"{broken}: ") and strip.error_for(broken) == message
    assert strip.thumbs.data(strip.currentIndex(), Qt.ItemDataRole.ToolTipRole) == message
    _load_until_idle(qtbot, strip)
    assert strip.thumbs.loaded_count() < 200
    strip.step(-1)
    assert strip.current_path() == tmp_path / "1000.png"


def test_unreadable_files_get_a_broken_tile_a_warning_name_and_their_reason(
        qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    good, truncated, text = tmp_path / "cat.jpg", tmp_path / "cut.jpg", tmp_path / "notes.png"
    buffer = io.BytesIO()
    Image.fromarray(photos["chelsea"]).save(buffer, "JPEG", quality=90)  # 451×300
    good.write_bytes(buffer.getvalue())
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    text.write_text("shopping list: milk, eggs\n")
    strip = ThumbnailStrip()
    qtbot.addWidget(strip)
    strip.resize(260, 400)
    strip.show()
    failures: dict[Path, str] = {}
    strip.thumbnailFailed.connect(lambda p, message: failures.__setitem__(p, message))
    with qtbot.waitSignal(strip.thumbnailsLoaded, timeout=10000):
        strip.set_folder(tmp_path)
    _load_until_idle(qtbot, strip)
    thumbs = strip.thumbs
    assert set(failures) == {truncated, text}
    rows = {p: thumbs.index(i) for i, p in enumerate(thumbs.paths())}
    placeholder = thumbs.placeholder().toImage()
    for path in (truncated, text):
        message = failures[path]
        assert message.startswith(f"{path}: ") and strip.error_for(path) == message
        assert thumbs.data(rows[path], Qt.ItemDataRole.ToolTipRole) == message
        tile = thumbs.data(rows[path], Qt.ItemDataRole.DecorationRole)
        assert isinstance(tile, QPixmap)
        image = tile.toImage()
        assert image != placeholder and image == thumbs.broken_tile().toImage()
        assert _warning_pixels(image) > THUMB * 4 and _warning_pixels(placeholder) == 0  # the red frame and cross
        brush = thumbs.data(rows[path], Qt.ItemDataRole.ForegroundRole)
        assert isinstance(brush, QBrush) and brush.color() == WARNING
    assert "truncated" in failures[truncated] or "corrupt" in failures[truncated]
    # the good photo: a real thumbnail of it, no warning
    assert strip.error_for(good) is None
    assert thumbs.data(rows[good], Qt.ItemDataRole.ToolTipRole) == str(good)
    assert thumbs.data(rows[good], Qt.ItemDataRole.ForegroundRole) is None
    thumb = thumbs.data(rows[good], Qt.ItemDataRole.DecorationRole)
    assert isinstance(thumb, QPixmap) and (thumb.width(), thumb.height()) == (THUMB, 64)
    expected = np.asarray(Image.fromarray(photos["chelsea"]).resize((THUMB, 64), Image.Resampling.BILINEAR), dtype=float)
    assert np.abs(_rgb(thumb.toImage()).astype(float) - expected).mean() < 12
    # and the view draws the broken tiles and the names in red: two tiles' worth of red, at least
    qtbot.waitUntil(lambda: _warning_pixels(strip.grab().toImage()) > 2 * _warning_pixels(thumbs.broken_tile().toImage()) * 0.9,
                    timeout=5000)

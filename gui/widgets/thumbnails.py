"""The input strip: a list of image files with thumbnails loaded lazily, off the UI thread.

Only thumbnails that are asked for (visible rows) are loaded, in small batches through the job
bridge, so folders of thousands of files open at once and scroll smoothly. A file that cannot be
read gets a broken tile (a red frame and cross) and its name in a warning colour, with the
engine's message (which names the file and what to do) as its tooltip and from `error_for`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListView, QWidget

from gui.jobs import JobWorker
from gui.plain import literal, visible
from gui.qimage import to_qimage
from translator import imaging
from translator.errors import ImageError
from translator.jobs import CancelToken

log = logging.getLogger(__name__)

THUMB = 96
BATCH = 24
WARNING = QColor("#c62828")
"""The broken tile's frame and cross, and an unreadable file's name."""

AnyIndex = QModelIndex | QPersistentModelIndex


class ThumbnailModel(QAbstractListModel):
    """Paths with lazily loaded thumbnails; an unreadable file shows a broken tile and its error.

    `thumbnailFailed(path, message)` is emitted for each file that cannot be read, and
    `thumbnailsLoaded(paths)` once per loaded batch (readable or not), after the rows changed.
    """

    thumbnailsLoaded = Signal(list)  # list[Path]: the batch just loaded
    thumbnailFailed = Signal(object, str)  # Path, the engine's message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._paths: list[Path] = []
        self._pixmaps: dict[Path, QPixmap] = {}
        self._errors: dict[Path, str] = {}
        self._wanted: list[Path] = []
        self._in_flight: set[Path] = set()  # the batch being read now
        self._batch: list[Path] = []  # loaded by the running worker so far
        self._generation = 0  # bumped by set_paths/cancel: a stale worker's results are dropped
        self._worker: JobWorker | None = None
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self._load_wanted)
        self._placeholder = QPixmap(THUMB, THUMB)
        self._placeholder.fill(QColor(60, 60, 60))
        self._broken = _broken_tile()
        self._warning = QBrush(WARNING)

    def set_paths(self, paths: list[Path]) -> None:
        self.beginResetModel()
        self.cancel()
        self._paths = list(paths)
        self._pixmaps.clear()
        self._errors.clear()
        self.endResetModel()

    def paths(self) -> list[Path]:
        return list(self._paths)

    def error_for(self, path: Path) -> str | None:
        """Why `path` could not be read (the engine's message), or None: readable or not tried yet."""
        return self._errors.get(path)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return visible(path.name)
        if role == Qt.ItemDataRole.ToolTipRole:
            return literal(self._errors.get(path, str(path)))
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._warning if path in self._errors else None
        if role == Qt.ItemDataRole.DecorationRole:
            if path in self._pixmaps:
                return self._pixmaps[path]
            if path in self._errors:
                return self._broken
            if path not in self._wanted and path not in self._in_flight:  # each file is read once
                self._wanted.append(path)
                self._timer.start()
            return self._placeholder
        if role == Qt.ItemDataRole.UserRole:
            return path
        return None

    def placeholder(self) -> QPixmap:
        """The tile shown while a thumbnail loads."""
        return self._placeholder

    def broken_tile(self) -> QPixmap:
        """The tile shown for a file that cannot be read."""
        return self._broken

    def cancel(self) -> None:
        """Stop loading; thumbnails still wanted are asked for again when their rows are drawn."""
        self._generation += 1
        self._wanted.clear()
        self._in_flight = set()
        self._batch.clear()
        self._timer.stop()
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    def is_loading(self) -> bool:
        """True while thumbnails are being loaded or wait to be: `thumbnailsLoaded` will follow."""
        return self._worker is not None or bool(self._wanted)

    def _load_wanted(self) -> None:
        if self._worker is not None or not self._wanted:
            return
        batch, self._wanted = self._wanted[:BATCH], self._wanted[BATCH:]
        self._in_flight = set(batch)
        generation = self._generation

        def job(token: CancelToken) -> Iterator[tuple[int, Path, QImage | str]]:
            for p in batch:
                token.raise_if_cancelled()
                try:
                    yield generation, p, to_qimage(imaging.read_thumbnail(p, THUMB))
                except ImageError as exc:
                    yield generation, p, str(exc)

        worker = JobWorker(job, name="thumbnails")
        worker.progress.connect(self._loaded)
        worker.finished.connect(self._batch_done)
        self._worker = worker
        worker.start()

    def _loaded(self, item: tuple[int, Path, QImage | str]) -> None:
        generation, path, thumb = item
        if generation != self._generation or path not in self._paths:
            return
        if isinstance(thumb, QImage):
            self._pixmaps[path] = QPixmap.fromImage(thumb)
        else:
            log.info("thumbnail: %s", thumb)
            self._errors[path] = thumb
        self._batch.append(path)
        row = self._paths.index(path)
        roles = [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole]
        self.dataChanged.emit(self.index(row), self.index(row), roles)
        if isinstance(thumb, str):
            self.thumbnailFailed.emit(path, thumb)

    def _batch_done(self) -> None:
        if self._worker is None or not self._worker.is_done():
            return  # a cancelled worker's end: set_paths/cancel already let it go
        self._worker = None
        self._in_flight = set()
        batch, self._batch = self._batch, []
        if self._wanted:
            self._timer.start()
        self.thumbnailsLoaded.emit(batch)

    def loaded_count(self) -> int:
        return len(self._pixmaps) + len(self._errors)


def _broken_tile() -> QPixmap:
    """The placeholder's grey, framed and crossed out in the warning colour: not an image."""
    tile = QPixmap(THUMB, THUMB)
    tile.fill(QColor(60, 60, 60))
    painter = QPainter(tile)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    pen = QPen(WARNING, 4)
    painter.setPen(pen)
    painter.drawRect(2, 2, THUMB - 4, THUMB - 4)
    pen.setWidth(6)
    painter.setPen(pen)
    inset = THUMB // 4
    painter.drawLine(inset, inset, THUMB - inset, THUMB - inset)
    painter.drawLine(THUMB - inset, inset, inset, THUMB - inset)
    painter.end()
    return tile


class ThumbnailStrip(QListView):
    """A vertical list of the folder's images; selecting one emits `imageSelected(Path)`.

    `thumbnailsLoaded(paths)` and `thumbnailFailed(path, message)` repeat the model's signals;
    `error_for(path)` says why a file could not be read (None if it could, or is not loaded yet).
    """

    imageSelected = Signal(object)
    thumbnailsLoaded = Signal(list)  # list[Path]
    thumbnailFailed = Signal(object, str)  # Path, the engine's message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbs = ThumbnailModel(self)
        self.setModel(self.thumbs)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setUniformItemSizes(True)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setSpacing(2)
        self.setMinimumWidth(THUMB + 110)
        self.selectionModel().currentChanged.connect(self._current_changed)
        self.thumbs.thumbnailsLoaded.connect(self.thumbnailsLoaded)
        self.thumbs.thumbnailFailed.connect(self.thumbnailFailed)

    def set_folder(self, folder: Path | None, recursive: bool = False) -> None:
        self.thumbs.set_paths(imaging.list_images(folder, recursive=recursive) if folder else [])
        if self.thumbs.rowCount():
            self.setCurrentIndex(self.thumbs.index(0))

    def paths(self) -> list[Path]:
        return self.thumbs.paths()

    def error_for(self, path: Path) -> str | None:
        """Why `path` could not be read (the engine's message), or None: readable or not tried yet."""
        return self.thumbs.error_for(path)

    def current_path(self) -> Path | None:
        idx = self.currentIndex()
        return self.thumbs.paths()[idx.row()] if idx.isValid() else None

    def select(self, path: Path) -> None:
        if path in self.thumbs.paths():
            self.setCurrentIndex(self.thumbs.index(self.thumbs.paths().index(path)))

    def step(self, delta: int) -> None:
        """Move the selection by `delta` rows (next/previous image)."""
        n = self.thumbs.rowCount()
        if n:
            row = self.currentIndex().row() if self.currentIndex().isValid() else -delta
            self.setCurrentIndex(self.thumbs.index(max(0, min(n - 1, row + delta))))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.imageSelected.emit(self.thumbs.paths()[current.row()])

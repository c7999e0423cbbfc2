"""The input strip: a list of image files with thumbnails loaded lazily, off the UI thread.

Only thumbnails that are asked for (visible rows) are loaded, in small batches through the job
bridge, so folders of thousands of files open at once and scroll smoothly.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QListView, QWidget

from gui.jobs import JobWorker
from gui.qimage import to_qimage
from translator import imaging
from translator.errors import ImageError
from translator.jobs import CancelToken

log = logging.getLogger(__name__)

THUMB = 96
BATCH = 24

AnyIndex = QModelIndex | QPersistentModelIndex


class ThumbnailModel(QAbstractListModel):
    """Paths with lazily loaded thumbnails; an unreadable file shows a grey tile and its error."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._paths: list[Path] = []
        self._pixmaps: dict[Path, QPixmap] = {}
        self._errors: dict[Path, str] = {}
        self._wanted: list[Path] = []
        self._worker: JobWorker | None = None
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self._load_wanted)
        self._placeholder = QPixmap(THUMB, THUMB)
        self._placeholder.fill(QColor(60, 60, 60))

    def set_paths(self, paths: list[Path]) -> None:
        self.beginResetModel()
        self.cancel()
        self._paths = list(paths)
        self._pixmaps.clear()
        self._errors.clear()
        self._wanted.clear()
        self.endResetModel()

    def paths(self) -> list[Path]:
        return list(self._paths)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return path.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._errors.get(path, str(path))
        if role == Qt.ItemDataRole.DecorationRole:
            if path in self._pixmaps:
                return self._pixmaps[path]
            if path not in self._errors and path not in self._wanted:
                self._wanted.append(path)
                self._timer.start()
            return self._placeholder
        if role == Qt.ItemDataRole.UserRole:
            return path
        return None

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    def _load_wanted(self) -> None:
        if self._worker is not None or not self._wanted:
            return
        batch, self._wanted = self._wanted[:BATCH], self._wanted[BATCH:]

        def job(token: CancelToken) -> Iterator[tuple[Path, QImage | str]]:
            for p in batch:
                token.raise_if_cancelled()
                try:
                    yield p, to_qimage(imaging.read_thumbnail(p, THUMB))
                except ImageError as exc:
                    yield p, str(exc)

        worker = JobWorker(job, name="thumbnails")
        worker.progress.connect(self._loaded)
        worker.finished.connect(self._batch_done)
        self._worker = worker
        worker.start()

    def _loaded(self, item: tuple[Path, QImage | str]) -> None:
        path, thumb = item
        if path not in self._paths:
            return
        if isinstance(thumb, QImage):
            self._pixmaps[path] = QPixmap.fromImage(thumb)
        else:
            self._errors[path] = thumb
        row = self._paths.index(path)
        self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])

    def _batch_done(self) -> None:
        self._worker = None
        if self._wanted:
            self._timer.start()

    def loaded_count(self) -> int:
        return len(self._pixmaps) + len(self._errors)


class ThumbnailStrip(QListView):
    """A vertical list of the folder's images; selecting one emits `imageSelected(Path)`."""

    imageSelected = Signal(object)

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

    def set_folder(self, folder: Path | None, recursive: bool = False) -> None:
        self.thumbs.set_paths(imaging.list_images(folder, recursive=recursive) if folder else [])
        if self.thumbs.rowCount():
            self.setCurrentIndex(self.thumbs.index(0))

    def paths(self) -> list[Path]:
        return self.thumbs.paths()

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

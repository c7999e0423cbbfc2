"""A few training pairs (made input | photo) shown small, before any pair is written: the
Fine-tune tab's `PairsOffer` fills it from `translator.pairs.preview_pairs`."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from gui.plain import PlainLabel
from gui.qimage import to_pixmap

THUMB = 72  # side of a preview thumbnail, px: four pairs fit the Fine-tune form at 1280×720


class PairsPreview(QWidget):
    """A few made pairs as thumbnails, two pairs a row, each input | photo; or a message instead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = PlainLabel()  # why no pair could be made: messages that name photos
        self.message.setWordWrap(True)
        self.message.hide()
        self._grid = QGridLayout()
        self._grid.setSpacing(4)
        self._thumbs: list[QLabel] = []
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addLayout(self._grid)
        self.setToolTip(self.tr("pairs made from your photos, each: made input | photo"))

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (input, photo) pairs shown, as given to `set_pairs`."""
        return list(self._pairs)

    def thumbnails(self) -> list[QLabel]:
        """The labels showing the pairs, input then photo for each, in order."""
        return self._thumbs[:2 * len(self._pairs)]

    def set_pairs(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self._pairs = list(pairs)
        self._say("" if pairs else self.tr("no pair could be made from these photos"), error=False)
        while len(self._thumbs) < 2 * len(pairs):
            i = len(self._thumbs)
            label = QLabel()
            label.setFixedSize(THUMB, THUMB)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._grid.addWidget(label, i // 4, i % 4)
            self._thumbs.append(label)
        images = [image for pair in pairs for image in pair]
        for i, label in enumerate(self._thumbs):
            label.setVisible(i < len(images))
            if i < len(images):
                label.setPixmap(to_pixmap(images[i]).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                            Qt.TransformationMode.SmoothTransformation))

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show `text` in place of the pairs (while computing, or why none could be made)."""
        self.set_pairs([])
        self._say(text, error=error)

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828" if error else "")
        self.message.setVisible(bool(text))  # no empty line above the pairs

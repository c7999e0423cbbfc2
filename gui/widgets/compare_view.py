"""A before/after wipe: two images in one frame, split by a vertical divider.

Left of the divider is the "before" image (the input), right of it the "after" (the output). The
divider follows the slider below the frame (0–100 %) or a drag in the frame (a press jumps it to
the cursor). Both images are fitted into the same rectangle, so a "before" of another size is
stretched to the "after" image's size for display. There is no zoom here; the side-by-side views
are the place for pixel peeping.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSlider, QVBoxLayout, QWidget

from gui.qimage import to_pixmap

BACKGROUND = QColor(48, 48, 48)


class _WipeCanvas(QWidget):
    """Paints the two pixmaps split at `position`; reports presses and drags as fractions."""

    dragged = Signal(float)  # fraction of the image width under the cursor, clamped to 0–1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.before: QPixmap | None = None
        self.after: QPixmap | None = None
        self.position = 0.5
        self.setMinimumSize(64, 64)
        self.setCursor(Qt.CursorShape.SplitHCursor)

    def image_rect(self) -> QRectF:
        """Where the images are drawn: the after image's size (or the before's, alone) fitted
        into the widget and centred; an empty rect without images."""
        ref = self.after or self.before
        if ref is None or ref.isNull():
            return QRectF()
        size = QSizeF(ref.size()).scaled(QSizeF(self.size()), Qt.AspectRatioMode.KeepAspectRatio)
        return QRectF(QPointF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2), size)

    def divider_x(self) -> float:
        r = self.image_rect()
        return r.left() + self.position * r.width()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        r = self.image_rect()
        if r.isEmpty():
            p.setPen(QColor(170, 170, 170))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("no images"))
            return
        x = self.divider_x()
        left = QRectF(r.left(), r.top(), x - r.left(), r.height())
        right = QRectF(x, r.top(), r.right() - x, r.height())
        for pix, clip in ((self.before, left), (self.after, right)):
            if pix is None or clip.width() <= 0:
                continue
            # smooth when shrinking, nearest when enlarging (pixels stay visible)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, r.width() < pix.width())
            p.save()
            p.setClipRect(clip)
            p.drawPixmap(r, pix, QRectF(pix.rect()))
            p.restore()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(0, 0, 0, 160), 3))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(QPen(QColor(255, 255, 255), 1))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setBrush(QColor(255, 255, 255))
        p.drawEllipse(QPointF(x, r.center().y()), 5, 5)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._drag_to(event.position().x())

    def _drag_to(self, x: float) -> None:
        r = self.image_rect()
        if r.width() > 0:
            self.dragged.emit(min(1.0, max(0.0, (x - r.left()) / r.width())))


class CompareView(QWidget):
    """Before/after wipe with a slider. `position()` is the divider's place as a fraction (0–1)
    of the image width; `positionChanged` is emitted whenever it changes, by any means."""

    positionChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = _WipeCanvas()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)  # percent
        self.slider.setValue(50)
        self.slider.setToolTip(self.tr("Divider position: before (input) on the left, after (output) on the right"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.slider)
        self.slider.valueChanged.connect(self._slider_moved)
        self.canvas.dragged.connect(self.set_position)

    def set_images(self, before: np.ndarray | None, after: np.ndarray | None) -> None:
        """Show `before` (left) and `after` (right), uint8 RGB(A); either may be None."""
        self.canvas.before = None if before is None else to_pixmap(before)
        self.canvas.after = None if after is None else to_pixmap(after)
        self.canvas.update()

    def position(self) -> float:
        return self.canvas.position

    def set_position(self, fraction: float) -> None:
        """Move the divider to `fraction` (clamped to 0–1) and keep the slider in step."""
        fraction = min(1.0, max(0.0, float(fraction)))
        if fraction == self.canvas.position:
            return
        self.canvas.position = fraction
        self.slider.blockSignals(True)  # the slider shows whole percent; don't round `fraction`
        self.slider.setValue(round(fraction * 100))
        self.slider.blockSignals(False)
        self.canvas.update()
        self.positionChanged.emit(fraction)

    def _slider_moved(self, percent: int) -> None:
        self.set_position(percent / 100)

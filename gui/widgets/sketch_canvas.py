"""The sketch canvas: a square drawing, in a model's input style, that the Sketch tab translates.

The drawing is a `QImage` of the canvas size (by default the model's training size), shown
scaled to fit the widget (aspect kept, centred); mouse and tablet positions are mapped into it.
Strokes are quadratic curves through the midpoints of the pointer's positions, drawn with round
caps and joins, each segment as wide as the pen times the tablet's pressure (when Qt reports
one). The eraser paints the paper colour. Widths are given in pixels at the model's training
size (`base_size`) and scale with the canvas, so a line looks as thick to the model at 512² as at
256².

Undo keeps, per step, only the part of the drawing that step changed (a stroke's bounding box;
the whole drawing for clear, open and resize), at most `UNDO_LIMIT` steps. A photo to trace over
is shown under the lines at low opacity; it is never part of `sketch()`, what the model sees.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QInputDevice, QMouseEvent, QPaintDevice, QPainter, QPainterPath,
                           QPaintEvent, QPen, QPointingDevice, QTabletEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.qimage import to_qimage

UNDO_LIMIT = 50
MIN_PRESSURE = 0.1  # the lightest touch still draws a tenth of the width
TRACE_OPACITY = 0.35
BACKGROUND = QColor(48, 48, 48)  # around the drawing, as the image views' background
_FORMAT = QImage.Format.Format_RGBX8888  # bytes R, G, B, X: the model's RGB is a strided view of it


@dataclass(frozen=True)
class _Step:
    """One undo (or redo) step: `image` goes back at `rect` (None: it replaces the whole drawing)."""

    rect: QRect | None
    image: QImage


def _fitted(image: QImage, side: int, cover: bool) -> QImage:
    """`image` scaled into a `side`² square, aspect kept and centred: all of it inside (cover=False,
    on transparent margins) or filling the square, centre-cropped (cover=True)."""
    mode = Qt.AspectRatioMode.KeepAspectRatioByExpanding if cover else Qt.AspectRatioMode.KeepAspectRatio
    scaled = image.scaled(QSize(side, side), mode, Qt.TransformationMode.SmoothTransformation)
    out = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    out.fill(Qt.GlobalColor.transparent)
    with _painting(out) as p:
        p.drawImage(QPointF((side - scaled.width()) / 2, (side - scaled.height()) / 2), scaled)
    return out


class _painting:
    """`with _painting(image) as p:` a QPainter on `image`, ended however the block leaves."""

    def __init__(self, device: QPaintDevice) -> None:
        self.painter = QPainter(device)

    def __enter__(self) -> QPainter:
        return self.painter

    def __exit__(self, *_exc: object) -> None:
        self.painter.end()


class SketchCanvas(QWidget):
    """A drawing with pen, eraser, undo/redo, clear, open and a trace underlay; see the module docstring.

    `strokeStarted` is emitted when a stroke begins, `strokeMoved` as it is drawn; `changed` when
    the drawing has settled into
    a new state (a stroke finished, undo, redo, clear, open, resize).
    """

    strokeStarted = Signal()
    strokeMoved = Signal()
    changed = Signal()

    def __init__(self, side: int = 256, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(60, 60)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Ctrl+Z reaches the Sketch tab's actions
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, False)
        self._ink, self._paper = QColor("#000000"), QColor("#ffffff")
        self.base_size = side  # the size pen widths are given at (the model's training size)
        self.pen_width = 2.0  # pixels at base_size
        self.eraser = False
        self._tool_before = False  # the tool chosen before a tablet's eraser end took over
        self._image = QImage(side, side, _FORMAT)
        self._image.fill(self._paper)
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._trace: QImage | None = None  # the photo as opened
        self._trace_fitted: QImage | None = None  # ... filling the canvas
        self.trace_opacity = TRACE_OPACITY
        self._before: QImage | None = None  # the drawing when the current stroke began
        self._dirty = QRectF()  # what the current stroke has touched, in canvas pixels
        self._pieces: list[tuple[float, QPointF, QPointF | None, QPointF]] = []  # the stroke: (width, start, control, end)
        self._boxes: list[tuple[float, float, float, float]] = []  # where each piece draws (x0, y0, x1, y1)
        self._colour = self._ink  # the current stroke's colour
        self._last = QPointF()
        self._mid = QPointF()

    # ----- what the model sees ------------------------------------------------------------------
    def sketch(self) -> np.ndarray:
        """The drawing as the model gets it: (H, W, 3) uint8 RGB, a copy."""
        img = self._image
        rows = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
        return rows[:, : img.width() * 4].reshape(img.height(), img.width(), 4)[:, :, :3].copy()

    def side(self) -> int:
        return self._image.width()

    def trace_image(self) -> np.ndarray | None:
        """The photo traced over, filling the canvas as it is shown ((H, W, 3) uint8), or None."""
        fitted = self._fitted_trace()
        if fitted is None:
            return None
        rgb = fitted.convertToFormat(QImage.Format.Format_RGB888)
        rows = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes()).reshape(rgb.height(), rgb.bytesPerLine())
        return rows[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3).copy()

    # ----- style and tools -----------------------------------------------------------------------
    def set_style(self, ink: str, paper: str) -> None:
        """Draw with `ink` on `paper` from now on (`#rrggbb`); what is drawn keeps its colours
        (a clear starts on the new paper)."""
        self._ink, self._paper = QColor(ink), QColor(paper)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def is_blank(self) -> bool:
        """Nothing drawn yet (or everything undone)."""
        return not self._undo

    # ----- whole-drawing edits (each one undo step) ---------------------------------------------
    def clear(self) -> None:
        """Paper only, in the current paper colour."""
        fresh = QImage(self._image.size(), _FORMAT)
        fresh.fill(self._paper)
        self._replace(fresh)

    def set_side(self, side: int) -> None:
        """Make the canvas `side`² pixels, the drawing scaled with it."""
        if side != self.side():
            self._replace(self._image.scaled(side, side, Qt.AspectRatioMode.IgnoreAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation).convertToFormat(_FORMAT))

    def reset(self, side: int) -> None:
        """A fresh canvas of `side`² in the current paper colour, with no undo history (a new
        model on an untouched canvas)."""
        self._image = QImage(side, side, _FORMAT)
        self._image.fill(self._paper)
        self._undo.clear()
        self._redo.clear()
        self._trace_fitted = None
        self.update()
        self.changed.emit()

    def load_sketch(self, rgb: np.ndarray) -> None:
        """A scanned or saved sketch ((H, W, 3) uint8) becomes the drawing, fitted on paper."""
        fresh = QImage(self._image.size(), _FORMAT)
        fresh.fill(self._paper)
        with _painting(fresh) as p:
            p.drawImage(0, 0, _fitted(to_qimage(rgb), self.side(), cover=False))
        self._replace(fresh)

    def set_trace(self, rgb: np.ndarray | None) -> None:
        """Show a photo ((H, W, 3) uint8) under the drawing at `trace_opacity`; None removes it."""
        self._trace = None if rgb is None else to_qimage(rgb)
        self._trace_fitted = None
        self.update()

    def has_trace(self) -> bool:
        return self._trace is not None

    def set_trace_opacity(self, opacity: float) -> None:
        self.trace_opacity = min(1.0, max(0.0, opacity))
        self.update()

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self._swap(self._undo.pop()))
            self.changed.emit()

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self._swap(self._redo.pop()))
            self.changed.emit()

    def _replace(self, image: QImage) -> None:
        self._remember(_Step(None, self._image))
        self._image = image
        self._trace_fitted = None  # the size may have changed
        self.update()
        self.changed.emit()

    def _remember(self, step: _Step) -> None:
        self._undo.append(step)
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()

    def _swap(self, step: _Step) -> _Step:
        """Put `step` back; return the step that undoes that."""
        if step.rect is None:
            now = _Step(None, self._image)
            self._image = step.image
            self._trace_fitted = None
        else:
            now = _Step(step.rect, self._image.copy(step.rect))
            with _painting(self._image) as p:
                p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
                p.drawImage(step.rect.topLeft(), step.image)
        self.update()
        return now

    # ----- strokes ------------------------------------------------------------------------------
    # A stroke is a list of pieces (quadratic curves through the pointer's midpoints, each with its
    # width). Each move draws, over the drawing as it was when the stroke began and clipped to
    # around the new piece, every piece that reaches there, consecutive pieces of one width as one
    # line: its outline is filled once, so there are no darker dots where pieces join (as drawing
    # them one by one would leave), and a move costs about the same early and late in a long stroke.
    def _begin(self, pos: QPointF, pressure: float) -> None:
        self._before = self._image.copy()
        self._colour = self._paper if self.eraser else self._ink
        self._pieces.clear()
        self._boxes.clear()
        self._dirty = QRectF()
        start = self._last = self._mid = self._to_canvas(pos)
        self._add(pressure, start, start + QPointF(0.01, 0), moved=False)  # a dot: the round cap draws it
        self.strokeStarted.emit()

    def _extend(self, pos: QPointF, pressure: float) -> None:
        point = self._to_canvas(pos)
        mid = (self._last + point) / 2
        self._add(pressure, self._mid, mid, self._last)
        self._last, self._mid = point, mid

    def _end(self, pos: QPointF, pressure: float) -> None:
        self._add(pressure, self._mid, self._to_canvas(pos), self._last, moved=False)
        before, self._before = self._before, None
        if before is not None:
            rect = self._dirty.toAlignedRect().intersected(self._image.rect())
            if not rect.isEmpty():
                self._remember(_Step(rect, before.copy(rect)))
        self.changed.emit()

    def _add(self, pressure: float, start: QPointF, end: QPointF, control: QPointF | None = None,
             moved: bool = True) -> None:
        """Add the piece start → end (a curve bent towards `control`, if given) and draw it."""
        if self._before is None:
            return
        width = self.pen_width * self.side() / self.base_size * max(MIN_PRESSURE, min(1.0, pressure))
        width = max(0.25, round(width * 4) / 4)  # quarter pixels: pieces of about one pressure share a path
        piece = QPainterPath(start)
        if control is None:
            piece.lineTo(end)
        else:
            piece.quadTo(control, end)
        box = piece.boundingRect().adjusted(-width - 1, -width - 1, width + 1, width + 1)
        self._pieces.append((width, start, control, end))
        self._boxes.append((box.left(), box.top(), box.right(), box.bottom()))
        b = np.asarray(self._boxes)
        near = (b[:, 0] <= box.right()) & (b[:, 2] >= box.left()) & (b[:, 1] <= box.bottom()) & (b[:, 3] >= box.top())
        paths: dict[float, QPainterPath] = {}
        previous = (-2, 0.0)
        for i in np.flatnonzero(near).tolist():
            w, a, c, e = self._pieces[i]
            path = paths.setdefault(w, QPainterPath())
            if previous != (i - 1, w):  # pieces in a row go on as one line, so their joins are not drawn twice
                path.moveTo(a)
            if c is None:
                path.lineTo(e)
            else:
                path.quadTo(c, e)
            previous = (i, w)
        with _painting(self._image) as painter:
            painter.setClipRect(box)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
            painter.drawImage(0, 0, self._before)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for w, path in paths.items():
                painter.setPen(QPen(self._colour, w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
                painter.drawPath(path)
        self._dirty = self._dirty.united(box)
        self.update(self._to_widget(box).toAlignedRect().adjusted(-2, -2, 2, 2))
        if moved:
            self.strokeMoved.emit()

    def stroking(self) -> bool:
        return self._before is not None

    # ----- input --------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self.stroking():
            self._begin(event.position(), 1.0)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.stroking():
            self._extend(event.position(), 1.0)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.stroking():
            self._end(event.position(), 1.0)

    def tabletEvent(self, event: QTabletEvent) -> None:
        """A pen: its pressure (where the device reports one) scales the width; its eraser end erases."""
        device = event.pointingDevice()
        has_pressure = bool(device.capabilities() & QInputDevice.Capability.Pressure)
        pressure = event.pressure() if has_pressure else 1.0
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress and not self.stroking():
            self._tool_before = self.eraser
            self.eraser = self.eraser or device.pointerType() == QPointingDevice.PointerType.Eraser
            self._begin(event.position(), pressure)
        elif kind == QTabletEvent.Type.TabletMove and self.stroking():
            self._extend(event.position(), pressure)
        elif kind == QTabletEvent.Type.TabletRelease and self.stroking():
            self._end(event.position(), pressure)
            self.eraser = self._tool_before
        event.accept()  # no synthesised mouse events: the stroke is drawn once

    # ----- geometry and painting ----------------------------------------------------------------
    def _scale(self) -> float:
        return min(self.width(), self.height()) / self.side()

    def _origin(self) -> QPointF:
        shown = self.side() * self._scale()
        return QPointF((self.width() - shown) / 2, (self.height() - shown) / 2)

    def _to_canvas(self, pos: QPointF) -> QPointF:
        return (pos - self._origin()) / self._scale()

    def _to_widget(self, rect: QRectF) -> QRectF:
        s = self._scale()
        return QRectF(self._origin() + rect.topLeft() * s, rect.size() * s)

    def image_rect(self) -> QRectF:
        """Where the drawing is shown, in widget coordinates."""
        return self._to_widget(QRectF(0, 0, self.side(), self.side()))

    def _fitted_trace(self) -> QImage | None:
        if self._trace is not None and (self._trace_fitted is None or self._trace_fitted.width() != self.side()):
            self._trace_fitted = _fitted(self._trace, self.side(), cover=True)
        return self._trace_fitted

    def paintEvent(self, event: QPaintEvent) -> None:
        target = self.image_rect()
        with _painting(self) as p:
            p.fillRect(event.rect(), BACKGROUND)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale() < 1)
            p.drawImage(target, self._image)
            trace = self._fitted_trace()
            if trace is not None:
                # multiply darkens light paper towards the photo and leaves dark ink dark (screen: the reverse)
                light_paper = self._paper.lightness() >= self._ink.lightness()
                p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply if light_paper
                                     else QPainter.CompositionMode.CompositionMode_Screen)
                p.setOpacity(self.trace_opacity)
                p.drawImage(target, trace)

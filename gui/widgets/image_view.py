"""One zoomable, pannable image with a caption, a placeholder and an optional heat-map overlay;
and `ViewSync`, which keeps several such views on the same part of their images.

Zoom is the view's scale (1.0 = 100 %, one image pixel per screen pixel); the centre is the scene
point (image pixel coordinates) at the middle of the viewport. Pixels are sampled smoothly when
zoomed out and nearest-neighbour when zoomed in past 100 %, so single pixels stay visible.

`viewChanged` is emitted only for the user's actions (wheel, drag, arrow keys, double-click,
`fit()`, `actual_size()`); `set_zoom`, `set_center` and the normalised setters are silent, which
is what lets views follow each other without feedback loops.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QPointF, QRect, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from gui.plain import visible
from gui.qimage import to_pixmap

WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 units of angleDelta)
MAX_ZOOM = 64.0  # a pixel 64 screen pixels wide is as close as anyone needs
MIN_ZOOM_OF_FIT = 0.25  # may zoom out to a quarter of "fit" (or of 100 % for small images)
BACKGROUND = QColor(48, 48, 48)  # neutral dark grey so image edges and placeholder text show


class ImageView(QGraphicsView):
    """Shows one RGB(A) uint8 image, or a centred placeholder text when there is none.

    The heat-map overlay is drawn over the image at `opacity`, stretched to the image's size; it
    is cleared by `set_image` (a map belongs to one image) but its visibility switch is kept.
    """

    viewChanged = Signal(float, QPointF)  # (zoom, centre in image pixels), user actions only
    imageChanged = Signal()  # after every set_image, so a ViewSync can align a new image

    def __init__(self, caption: str = "", placeholder: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caption = caption
        self._placeholder = self.tr("no image") if placeholder is None else placeholder
        self._quiet = 0  # > 0 while the view changes itself; such changes are not signalled
        self._fitted = True  # still showing "fit": refit on resize
        self._overlay_visible = True
        self._has_overlay = False
        self.setScene(QGraphicsScene(self))
        self._image = QGraphicsPixmapItem()
        self._overlay = QGraphicsPixmapItem(self._image)  # child: shares the image's coordinates
        self._image.setVisible(False)
        self._overlay.setVisible(False)
        self.scene().addItem(self._image)
        self.setSceneRect(QRectF(0, 0, 1, 1))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # wheel zoom anchors itself
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # the caption is painted in viewport coordinates; scrolled pixels would smear it
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)

    # ----- content -------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show `rgb` ((H, W, 3|4) uint8) or, with None, the placeholder. A first image, or one of
        a new size, is fitted; one of the same size keeps the zoom and centre (for browsing)."""
        old = self.image_size()
        self.set_overlay(None)
        if rgb is None:
            self._image.setVisible(False)
            self._image.setPixmap(QPixmap())
            self.setSceneRect(QRectF(0, 0, 1, 1))
        else:
            self._image.setPixmap(to_pixmap(rgb))
            self._image.setVisible(True)
            self.setSceneRect(self._image.boundingRect())
            if self.image_size() != old:
                self._fit()
        self._update_sampling()
        self.viewport().update()
        self.imageChanged.emit()

    def has_image(self) -> bool:
        return self._image.isVisible()

    def image_size(self) -> QSize:
        """Width × height of the image in pixels; an empty size without one."""
        return self._image.pixmap().size() if self.has_image() else QSize()

    def set_overlay(self, rgb: np.ndarray | None, opacity: float = 0.5) -> None:
        """Lay `rgb` over the image at `opacity` (0–1), stretched to the image's size; None removes it."""
        self._has_overlay = rgb is not None
        if rgb is None:
            self._overlay.setVisible(False)
            self._overlay.setPixmap(QPixmap())
            return
        pix = to_pixmap(rgb)
        self._overlay.setPixmap(pix)
        self._overlay.setOpacity(min(1.0, max(0.0, opacity)))
        img = self._image.pixmap().size() if self.has_image() else pix.size()
        self._overlay.setTransform(QTransform.fromScale(img.width() / pix.width(), img.height() / pix.height()))
        self._overlay.setVisible(self._overlay_visible and self.has_image())
        self._update_sampling()

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = visible
        self._overlay.setVisible(visible and self._has_overlay and self.has_image())

    def overlay_visible(self) -> bool:
        """Whether an overlay is actually being drawn now."""
        return self._overlay.isVisible()

    def caption(self) -> str:
        return self._caption

    def set_caption(self, text: str) -> None:
        self._caption = text
        self.viewport().update()

    def placeholder(self) -> str:
        return self._placeholder

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.viewport().update()

    # ----- zoom and centre -----------------------------------------------------------------
    def zoom(self) -> float:
        """Screen pixels per image pixel (1.0 = 100 %)."""
        return self.transform().m11()

    def center(self) -> QPointF:
        """The scene point (image pixel coordinates) at the middle of the viewport."""
        vp = self.viewport()
        return self._to_scene(QPointF(vp.width() / 2, vp.height() / 2))

    def set_zoom(self, factor: float) -> None:
        """Zoom to `factor` about the current centre, silently (no `viewChanged`)."""
        self._fitted = False
        self._apply(factor, self.center())

    def set_center(self, point: QPointF) -> None:
        """Put scene `point` at the middle of the viewport, as far as the image edges allow; silent."""
        self._fitted = False
        self._apply(self.zoom(), point)

    def fit(self) -> None:
        """Show the whole image, centred; a user action, so `viewChanged` is emitted."""
        if self.has_image():
            self._fit()
            self.viewChanged.emit(self.zoom(), self.center())

    def actual_size(self) -> None:
        """Zoom to 100 % about the current centre; a user action, so `viewChanged` is emitted."""
        if self.has_image():
            self._fitted = False
            self._apply(1.0, self.center())
            self.viewChanged.emit(self.zoom(), self.center())

    def fit_zoom(self) -> float:
        """The zoom at which the whole image fits the viewport (1.0 without an image)."""
        size, vp = self.image_size(), self.viewport().size()
        if size.isEmpty() or vp.isEmpty():
            return 1.0
        return min(vp.width() / size.width(), vp.height() / size.height())

    def normalized_state(self) -> tuple[float, QPointF] | None:
        """(zoom ÷ fit zoom, centre ÷ image size), or None without an image: the view's state in
        terms that carry over to an image of another size or a viewport of another shape."""
        size = self.image_size()
        if size.isEmpty():
            return None
        c = self.center()
        return self.zoom() / self.fit_zoom(), QPointF(c.x() / size.width(), c.y() / size.height())

    def set_normalized_state(self, relative_zoom: float, fraction: QPointF) -> None:
        """The inverse of `normalized_state`; silent. Does nothing without an image."""
        size = self.image_size()
        if size.isEmpty():
            return
        self._fitted = abs(relative_zoom - 1.0) < 1e-9 and abs(fraction.x() - 0.5) < 1e-3 and abs(fraction.y() - 0.5) < 1e-3
        self._apply(relative_zoom * self.fit_zoom(), QPointF(fraction.x() * size.width(), fraction.y() * size.height()))

    # ----- user input ----------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom about the point under the cursor: one notch = ×1.25."""
        notches = event.angleDelta().y() / 120 or event.pixelDelta().y() / 60
        event.accept()
        if not notches or not self.has_image():
            return
        anchor = event.position()
        scene_at = self._to_scene(anchor)  # keep this point under the cursor
        zoom = self._clamp(self.zoom() * WHEEL_STEP**notches)
        if abs(zoom - self.zoom()) < 1e-12:
            return
        vp = self.viewport()
        offset = QPointF(vp.width() / 2 - anchor.x(), vp.height() / 2 - anchor.y())
        self._fitted = False
        self._apply(zoom, scene_at + offset / zoom)
        self.viewChanged.emit(self.zoom(), self.center())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        with self._user_change():
            super().mouseMoveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        with self._user_change():
            super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        with self._silenced():
            super().resizeEvent(event)
            if self._fitted and self.has_image():
                self._fit()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        """Caption (top left) and placeholder (centre), in viewport pixels, above the scene."""
        painter.save()
        painter.resetTransform()
        area = QRectF(self.viewport().rect())
        if not self.has_image() and self._placeholder:
            painter.setPen(QColor(170, 170, 170))
            text_area = area.adjusted(12, 12, -12, -12)
            painter.drawText(text_area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             visible(self._placeholder, lines=True))
        if self._caption:
            font = QFont(painter.font())
            font.setBold(True)
            painter.setFont(font)
            # a caption longer than a narrow view is elided (…), never cut mid-letter at the edge; a
            # file name's hidden characters (a bidi override faking its suffix) show as escapes
            caption = painter.fontMetrics().elidedText(visible(self._caption), Qt.TextElideMode.ElideRight,
                                                       max(20, int(area.width()) - 24))
            box = painter.fontMetrics().boundingRect(caption).adjusted(-6, -3, 6, 3)
            box.moveTopLeft(area.topLeft().toPoint() + QPointF(6, 6).toPoint())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(QRectF(box), 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QRectF(box), Qt.AlignmentFlag.AlignCenter, caption)
        painter.restore()

    # ----- internals -----------------------------------------------------------------------
    def _to_scene(self, p: QPointF) -> QPointF:
        """Viewport → scene for a fractional point (mapToScene(QPoint) rounds to whole pixels)."""
        origin = self.mapToScene(0, 0)  # scene point at the viewport's top-left corner
        z = self.zoom()
        return QPointF(origin.x() + p.x() / z, origin.y() + p.y() / z)

    def _clamp(self, zoom: float) -> float:
        lo = MIN_ZOOM_OF_FIT * min(self.fit_zoom(), 1.0)
        return min(MAX_ZOOM, max(lo, zoom))

    def _fit(self) -> None:
        self._fitted = True
        size = self.image_size()
        self._apply(self.fit_zoom(), QPointF(size.width() / 2, size.height() / 2))

    def _apply(self, zoom: float, center: QPointF) -> None:
        with self._silenced():
            self.setTransform(QTransform.fromScale(zoom, zoom))
            self.centerOn(center)
        self._update_sampling()

    def _update_sampling(self) -> None:
        """Nearest-neighbour once a source pixel covers more than one screen pixel, else smooth."""
        fast, smooth = Qt.TransformationMode.FastTransformation, Qt.TransformationMode.SmoothTransformation
        z = self.zoom()
        self._image.setTransformationMode(fast if z > 1.0 + 1e-9 else smooth)
        self._overlay.setTransformationMode(fast if z * self._overlay.transform().m11() > 1.0 + 1e-9 else smooth)

    @contextmanager
    def _silenced(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    @contextmanager
    def _user_change(self) -> Iterator[None]:
        """Run a base-class handler that may scroll; emit one `viewChanged` if it did."""
        before = (self.zoom(), self.center())
        with self._silenced():
            yield
        after = (self.zoom(), self.center())
        if self._quiet == 0 and after != before:
            self._fitted = False
            self.viewChanged.emit(*after)


class ViewSync(QObject):
    """Keeps a group of `ImageView`s on the same part of their images.

    When one view emits `viewChanged`, every other view that has an image gets its state in
    normalised coordinates: the centre as a fraction of the image size and the zoom relative to
    "fit". So views of same-sized images in same-sized panes show identical zoom and centre, and
    an image of another size (an input of 256², an output of 512²) still shows the same region,
    at whatever scale fills its pane alike. The latest state is remembered and applied to a view
    when it gets a new image. Followers are set silently, so there is no loop and one user action
    gives exactly one `viewChanged` in the whole group.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._views: list[ImageView] = []
        self._last: tuple[float, QPointF] | None = None

    def add(self, view: ImageView) -> None:
        if view in self._views:
            return
        self._views.append(view)
        view.viewChanged.connect(self._follow)
        view.imageChanged.connect(self._adopt)

    def remove(self, view: ImageView) -> None:
        if view in self._views:
            self._views.remove(view)
            view.viewChanged.disconnect(self._follow)
            view.imageChanged.disconnect(self._adopt)

    def views(self) -> list[ImageView]:
        """The views still alive (a deleted widget drops out by itself)."""
        self._views = [v for v in self._views if shiboken6.isValid(v)]
        return list(self._views)

    @Slot(float, QPointF)
    def _follow(self, zoom: float, center: QPointF) -> None:
        source = self.sender()
        if not isinstance(source, ImageView) or (state := source.normalized_state()) is None:
            return
        self._last = state
        for view in self.views():
            if view is not source:
                view.set_normalized_state(*state)

    @Slot()
    def _adopt(self) -> None:
        view = self.sender()
        if isinstance(view, ImageView) and self._last is not None:
            view.set_normalized_state(*self._last)

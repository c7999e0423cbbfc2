"""A small live line plot drawn with QPainter: named series, a legend, auto-scaled axes.

QtCharts lives in PySide6-Addons, which the app does not depend on, so training curves are
drawn by hand. Points are kept as given (`points()` returns them); only drawing is decimated:
each series is reduced to at most a minimum and a maximum per horizontal pixel, so a plot with
tens of thousands of points repaints as fast as one with a few hundred and spikes stay visible.
Non-finite points (NaN, ±inf) are skipped when added; with a log y axis, points with y <= 0
are kept but not drawn.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
"""Series colours, in the order the series first receive a point."""


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """About `count` round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks: list[float] = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v = first + step * len(ticks)
    return ticks


def _fmt(v: float) -> str:
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{v:.0e}"
    return f"{v:.4g}"


class CurvePlot(QWidget):
    """Named series of (x, y) points drawn as lines, each in its own colour, with a legend.

    `add_point(series, x, y)` appends (and repaints lazily); `clear()` forgets everything.
    Axes scale to the data; `set_log_y(True)` plots y on a log10 scale (off by default).
    """

    def __init__(self, title: str = "", parent: QWidget | None = None, *, log_y: bool = False) -> None:
        super().__init__(parent)
        self._title = title
        self._log_y = log_y
        self._series: dict[str, list[tuple[float, float]]] = {}
        self._colours: dict[str, QColor] = {}
        self._repaint_pending = False
        self.setMinimumSize(160, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # data -----------------------------------------------------------------------------------
    def title(self) -> str:
        return self._title

    def set_title(self, title: str) -> None:
        self._title = title
        self.update()

    def log_y(self) -> bool:
        return self._log_y

    def set_log_y(self, on: bool) -> None:
        self._log_y = on
        self.update()

    def add_point(self, series: str, x: float, y: float) -> None:
        """Append a point to `series` (created on first use); non-finite points are skipped."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        if series not in self._series:
            self._series[series] = []
            self._colours[series] = QColor(PALETTE[(len(self._colours)) % len(PALETTE)])
        self._series[series].append((float(x), float(y)))
        self._schedule_repaint()

    def clear(self) -> None:
        self._series.clear()
        self._colours.clear()
        self._schedule_repaint()

    def _schedule_repaint(self) -> None:
        # One update() per repaint, not per point: cheaper, and each call into PySide6 6.12's
        # void methods costs a reference to None on Python 3.11 (a binding bug).
        if not self._repaint_pending:
            self._repaint_pending = True
            self.update()

    def series_names(self) -> list[str]:
        """The series, in the order they were created."""
        return list(self._series)

    def points(self, series: str) -> list[tuple[float, float]]:
        """A copy of the series' points as added (empty for an unknown series)."""
        return list(self._series.get(series, []))

    def colour(self, series: str) -> QColor | None:
        return self._colours.get(series)

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    # drawing --------------------------------------------------------------------------------
    def _ty(self, y: float) -> float:
        """y in axis units (log10 when the y axis is logarithmic; NaN for y <= 0 then)."""
        if not self._log_y:
            return y
        return math.log10(y) if y > 0 else math.nan

    def _bounds(self) -> tuple[float, float, float, float] | None:
        xs: list[float] = []
        ys: list[float] = []
        for pts in self._series.values():
            if not pts:
                continue
            xs += (min(p[0] for p in pts), max(p[0] for p in pts))
            tys = [t for t in (self._ty(p[1]) for p in pts) if math.isfinite(t)]
            if tys:
                ys += (min(tys), max(tys))
        if not xs or not ys:
            return None
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 <= y0:
            pad = abs(y0) * 0.05 or 0.5
            y0, y1 = y0 - pad, y1 + pad
        else:
            pad = (y1 - y0) * 0.05
            y0, y1 = y0 - pad, y1 + pad
        return x0, x1, y0, y1

    def _decimated(self, pts: list[tuple[float, float]], x0: float, sx: float, left: float) -> list[tuple[float, float]]:
        """Pixel-space points: at most the first, min, max and last point per pixel column."""
        out: list[tuple[float, float]] = []
        col: int | None = None
        bucket: list[tuple[float, float]] = []

        def flush() -> None:
            if len(bucket) <= 3:
                out.extend(bucket)
                return
            lo = min(bucket, key=lambda p: p[1])
            hi = max(bucket, key=lambda p: p[1])
            mid = [lo, hi] if bucket.index(lo) < bucket.index(hi) else [hi, lo]
            out.extend([bucket[0], *mid, bucket[-1]])

        for x, y in pts:
            ty = self._ty(y)
            if not math.isfinite(ty):
                continue
            px = left + (x - x0) * sx
            c = int(px)
            if c != col and bucket:
                flush()
                bucket = []
            col = c
            bucket.append((px, ty))
        if bucket:
            flush()
        return out

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        self._repaint_pending = False
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pal = self.palette()
        painter.fillRect(self.rect(), pal.base())
        fm = QFontMetrics(self.font())
        line_h = fm.height()
        text_pen = QPen(pal.text().color())
        painter.setPen(text_pen)
        # title, then the legend on the same line(s)
        x = 4.0
        y = float(line_h)
        if self._title:
            painter.drawText(QPointF(x, y - fm.descent()), self._title)
            x += fm.horizontalAdvance(self._title) + 12
        for name, colour in self._colours.items():
            w = 12 + fm.horizontalAdvance(name) + 10
            if x + w > self.width() and x > 4:
                x, y = 4.0, y + line_h
            painter.fillRect(QRectF(x, y - line_h / 2 - 4, 8, 8), colour)
            painter.setPen(text_pen)
            painter.drawText(QPointF(x + 11, y - fm.descent()), name)
            x += w
        bounds = self._bounds()
        left = 8.0 + max(fm.horizontalAdvance("-0.0000"), fm.horizontalAdvance("1e-05"))
        plot = QRectF(left, y + 6, self.width() - left - 10, self.height() - y - 6 - line_h - 6)
        if plot.width() < 10 or plot.height() < 10:
            painter.end()
            return
        grid_pen = QPen(pal.mid().color())
        painter.setPen(grid_pen)
        painter.drawRect(plot)
        if bounds is None:
            painter.setPen(text_pen)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no data yet")
            painter.end()
            return
        x0, x1, y0, y1 = bounds
        sx = plot.width() / (x1 - x0)
        sy = plot.height() / (y1 - y0)
        # ticks
        grid_pen.setStyle(Qt.PenStyle.DotLine)
        for t in nice_ticks(y0, y1, 4):
            py = plot.bottom() - (t - y0) * sy
            painter.setPen(grid_pen)
            painter.drawLine(QPointF(plot.left(), py), QPointF(plot.right(), py))
            painter.setPen(text_pen)
            label = _fmt(10**t) if self._log_y else _fmt(t)
            painter.drawText(QRectF(0, py - line_h / 2, left - 4, line_h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        for t in nice_ticks(x0, x1, 4):
            px = plot.left() + (t - x0) * sx
            painter.setPen(grid_pen)
            painter.drawLine(QPointF(px, plot.top()), QPointF(px, plot.bottom()))
            painter.setPen(text_pen)
            painter.drawText(QRectF(px - 40, plot.bottom() + 2, 80, line_h), Qt.AlignmentFlag.AlignHCenter, _fmt(t))
        # series
        painter.setClipRect(plot.adjusted(-1, -1, 1, 1))
        for name, pts in self._series.items():
            pen = QPen(self._colours[name])
            pen.setWidthF(1.5)
            painter.setPen(pen)
            pixels = [QPointF(px, plot.bottom() - (ty - y0) * sy) for px, ty in self._decimated(pts, x0, sx, plot.left())]
            if len(pixels) == 1:
                painter.setBrush(self._colours[name])
                painter.drawEllipse(pixels[0], 2.5, 2.5)
            elif pixels:
                painter.drawPolyline(QPolygonF(pixels))
                if len(pixels) < 40:  # sparse series (validation): mark the points too
                    painter.setBrush(self._colours[name])
                    for p in pixels:
                        painter.drawEllipse(p, 2.0, 2.0)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.end()

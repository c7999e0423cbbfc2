"""Live training curves drawn by pyqtgraph: named series, a legend, labelled auto-ranged axes.

pyqtgraph replaced a hand-drawn QPainter plot because it repaints the same curves faster
(bench/curves_repaint.py; figures in bench/notes/curves-repaint.md). Points are kept as given
(`points()` returns them) in growing numpy buffers and handed to pyqtgraph at most once per event
loop turn, so a training step's few points, or a whole log loaded at once, cost one update.
pyqtgraph draws only the visible part of each series, reduced to its peaks (a minimum and a
maximum per pixel column) once it has more points than the plot has pixels, so a long run
repaints as fast as a short one and spikes stay visible. Non-finite points (NaN, ±inf) are
skipped when added; with a log y axis, points with y <= 0 are kept but not drawn.

The plot follows the data: mouse pan and zoom are off, so the wheel scrolls the page around it.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.plain import escaped

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
"""Series colours, in the order the series first receive a point."""

SPARSE = 40
"""A series with fewer points than this (validation scores) also marks each point."""

# About 2 drawn points (a peak pair) per pixel column, all the eye can see, and a cosmetic 1 px
# antialiased pen, which keeps Qt on its fast line path: each makes a repaint several times
# cheaper than pyqtgraph's 5 points per column or a 1.5 px pen (bench/notes/curves-repaint.md).
_DOWNSAMPLE_FACTOR = 1.0
_LINE_WIDTH = 1.0


class _Series:
    """One series' points in growing buffers, and the pyqtgraph item that draws them."""

    __slots__ = ("xs", "ys", "n", "colour", "item", "drawn")

    def __init__(self, colour: QColor, item: pg.PlotDataItem) -> None:
        self.colour = colour
        self.xs = np.empty(256)
        self.ys = np.empty(256)
        self.n = 0
        self.item = item
        self.drawn = 0  # how many points the item has been given

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.xs):  # double: appending stays O(1) amortised
            self.xs = np.concatenate([self.xs, np.empty_like(self.xs)])
            self.ys = np.concatenate([self.ys, np.empty_like(self.ys)])
        self.xs[self.n] = x
        self.ys[self.n] = y
        self.n += 1


class CurvePlot(QWidget):
    """Named series of (x, y) points drawn as lines, each in its own colour, with a legend.

    `add_point(series, x, y)` appends (the plot catches up on the next event loop turn, or
    before it paints); `clear()` forgets everything. Axes scale to the data; the x axis is
    labelled `x_label`; `set_log_y(True)` plots y on a log10 scale (off by default).
    """

    def __init__(self, title: str = "", parent: QWidget | None = None, *, log_y: bool = False,
                 x_label: str = "step") -> None:
        super().__init__(parent)
        self._title = title
        self._log_y = log_y
        self._series: dict[str, _Series] = {}
        pal = self.palette()
        self.view = pg.PlotWidget(background=pal.base().color())
        self._plot = self.view.getPlotItem()
        for side in ("left", "bottom"):
            axis = self._plot.getAxis(side)
            axis.setTextPen(pal.text().color())
            axis.setPen(pal.mid().color())
        self._plot.setLabel("bottom", x_label, color=pal.text().color().name(), **{"font-size": "8pt"})
        self._plot.showGrid(x=True, y=True, alpha=0.25)
        self._plot.setDownsampling(auto=True, mode="peak")
        self._plot.setClipToView(True)
        self._plot.setLogMode(y=log_y)
        self._plot.setMouseEnabled(x=False, y=False)
        self._plot.setMenuEnabled(False)
        self._plot.hideButtons()
        self.header = QLabel()  # the title, then the legend: a coloured square and a name per series
        self.header.setTextFormat(Qt.TextFormat.RichText)  # the app's own markup; series names (a log's keys) escaped
        self.header.setWordWrap(True)
        self.header.setContentsMargins(4, 2, 4, 0)
        self._update_header()
        # New points reach pyqtgraph on the next loop turn, or just before a paint (grab()).
        self._flush_timer = QTimer(self, singleShot=True, interval=0)
        self._flush_timer.timeout.connect(self._flush)
        self._plot.scene().sigPrepareForPaint.connect(self._flush)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.view, 1)
        self.setMinimumSize(160, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # data -----------------------------------------------------------------------------------
    def title(self) -> str:
        return self._title

    def set_title(self, title: str) -> None:
        self._title = title
        self._update_header()

    def log_y(self) -> bool:
        return self._log_y

    def set_log_y(self, on: bool) -> None:
        self._log_y = on
        self._plot.setLogMode(y=on)

    def add_point(self, series: str, x: float, y: float) -> None:
        """Append a point to `series` (created on first use); non-finite points are skipped."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        s = self._series.get(series)
        if s is None:
            colour = QColor(PALETTE[len(self._series) % len(PALETTE)])
            pen = pg.mkPen(colour, width=_LINE_WIDTH)
            s = _Series(colour, self._plot.plot(pen=pen, antialias=True, autoDownsampleFactor=_DOWNSAMPLE_FACTOR))
            self._series[series] = s
            self._update_header()
        s.append(float(x), float(y))
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def clear(self) -> None:
        for s in self._series.values():
            self._plot.removeItem(s.item)
        self._series.clear()
        self._update_header()

    def series_names(self) -> list[str]:
        """The series, in the order they were created."""
        return list(self._series)

    def points(self, series: str) -> list[tuple[float, float]]:
        """A copy of the series' points as added (empty for an unknown series)."""
        s = self._series.get(series)
        if s is None:
            return []
        return list(zip(s.xs[:s.n].tolist(), s.ys[:s.n].tolist(), strict=True))

    def drawn_count(self, series: str) -> int:
        """How many of the series' points pyqtgraph draws now (after peak reduction and clipping)."""
        s = self._series.get(series)
        if s is None:
            return 0
        xs, _ys = s.item.getData()
        return 0 if xs is None else len(xs)

    def colour(self, series: str) -> QColor | None:
        s = self._series.get(series)
        return None if s is None else QColor(s.colour)

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    def hasHeightForWidth(self) -> bool:
        """False: a plot takes the height its layout gives it. (Its wrapping title would otherwise
        make the Fine-tune tab ask for a height that puts the lower curves below the fold.)"""
        return False

    # drawing --------------------------------------------------------------------------------
    def _update_header(self) -> None:
        title = f"<b>{escaped(self._title)}</b>&nbsp;&nbsp; " if self._title else ""
        keys = [f'<span style="color:{s.colour.name()}">&#9632;</span>&nbsp;{escaped(name)}'
                for name, s in self._series.items()]
        self.header.setText(title + " &nbsp; ".join(keys))

    def _flush(self) -> None:
        """Give pyqtgraph the points added since the last flush."""
        changed = False
        for s in self._series.values():
            if s.drawn == s.n:
                continue
            symbol = "o" if s.n < SPARSE else None  # sparse: mark each point
            s.item.setData(s.xs[:s.n], s.ys[:s.n], symbol=symbol, symbolSize=4, symbolPen=None,
                           symbolBrush=s.colour)
            s.drawn = s.n
            changed = True
        if changed:
            # Called from the scene's prepare-for-paint, the view box has already taken its range
            # for this paint: let it take the new data in now, not one paint later.
            self._plot.getViewBox().prepareForPaint()

"""The training curves (`CurvePlot`, drawn by pyqtgraph): what a user sees in the picture itself,
peak reduction of long runs, the log axis, and a wheel over a plot scrolling the page."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.widgets.curves import CurvePlot


def _pixels(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a grabbed widget."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(rgb.constBits(), np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    return rows[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3).copy()  # a copy: `rgb` dies here


def _near(pixels: np.ndarray, colour: QColor, tolerance: int = 40) -> int:
    """How many pixels are within `tolerance` (per channel) of `colour`."""
    target = np.array([colour.red(), colour.green(), colour.blue()])
    return int((np.abs(pixels.astype(int) - target).max(axis=2) <= tolerance).sum())


def test_each_series_is_drawn_in_its_colour_with_a_legend_and_a_step_axis(qtbot: QtBot) -> None:
    plot = CurvePlot("losses")
    qtbot.addWidget(plot)
    plot.resize(400, 220)
    plot.show()
    empty = _pixels(plot.grab().toImage())
    for i in range(300):
        plot.add_point("G_L1", i, 2.0 * math.exp(-i / 100))
        plot.add_point("D", i, 0.5 + 0.1 * math.sin(i / 10))
    # no event loop turn: the grab's own paint takes the new points in
    drawn = _pixels(plot.grab().toImage())
    g, d = plot.colour("G_L1"), plot.colour("D")
    assert g is not None and d is not None and g != d
    assert _near(empty, g) == 0 and _near(empty, d) == 0
    assert _near(drawn, g) > 100 and _near(drawn, d) > 100  # each curve is there, in its colour
    legend = plot.header.text()
    assert "losses" in legend and "G_L1" in legend and "D" in legend and g.name() in legend and d.name() in legend
    assert plot.view.getPlotItem().getAxis("bottom").labelText == "step"
    x_range, y_range = plot.view.getPlotItem().getViewBox().viewRange()
    assert x_range[0] <= 0 and x_range[1] >= 299 and y_range[0] <= 0.4 and y_range[1] >= 2.0  # follows the data
    plot.clear()
    assert plot.series_names() == [] and "G_L1" not in plot.header.text()
    assert _near(_pixels(plot.grab().toImage()), g) == 0


def test_a_long_run_is_drawn_as_its_peaks(qtbot: QtBot) -> None:
    """50 000 points on a 400 px plot: pyqtgraph draws a few points per pixel column, and a
    one-step spike (a diverging step) is still among them and inside the view."""
    plot = CurvePlot("losses")
    qtbot.addWidget(plot)
    plot.resize(400, 200)
    plot.show()
    rng = np.random.default_rng(0)
    ys = 1.0 + 0.05 * rng.standard_normal(50_000)
    ys[31_337] = 9.0
    for x, y in enumerate(ys):
        plot.add_point("G", x, float(y))
    qtbot.waitUntil(lambda: plot.drawn_count("G") > 0, timeout=5000)
    plot.grab()
    assert len(plot.points("G")) == 50_000
    assert plot.drawn_count("G") <= 4 * plot.width()
    _xs, drawn_ys = plot.view.getPlotItem().listDataItems()[0].getData()
    assert float(np.nanmax(drawn_ys)) == 9.0
    assert plot.view.getPlotItem().getViewBox().viewRange()[1][1] >= 9.0


def test_sparse_series_mark_their_points_and_non_finite_points_are_skipped(qtbot: QtBot) -> None:
    plot = CurvePlot("validation PSNR (dB)")
    qtbot.addWidget(plot)
    plot.add_point("PSNR", 10, 20.0)
    plot.add_point("PSNR", 20, math.nan)
    plot.add_point("PSNR", 30, math.inf)
    plot.add_point("PSNR", 40, 24.0)
    assert plot.points("PSNR") == [(10.0, 20.0), (40.0, 24.0)] and plot.points("missing") == []
    plot.grab()
    [item] = plot.view.getPlotItem().listDataItems()
    assert item.opts["symbol"] == "o"  # two validation scores: each one marked, not just a line


def test_log_y_keeps_non_positive_points_but_draws_only_the_others(qtbot: QtBot) -> None:
    plot = CurvePlot("losses", log_y=True)
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    for x, y in enumerate((1.0, 10.0, 0.0, 100.0, -1.0, 1000.0)):
        plot.add_point("loss", x, y)
    assert plot.log_y() and len(plot.points("loss")) == 6
    image = _pixels(plot.grab().toImage())
    colour = plot.colour("loss")
    assert colour is not None and _near(image, colour) > 20
    y_range = plot.view.getPlotItem().getViewBox().viewRange()[1]
    assert y_range[0] <= 0.0 and 3.0 <= y_range[1] < 4.0  # log10 units: 1 … 1000
    plot.set_log_y(False)
    plot.grab()
    assert plot.view.getPlotItem().getViewBox().viewRange()[1][1] >= 1000.0


def test_the_wheel_over_a_plot_is_left_to_the_page(qtbot: QtBot) -> None:
    """The Fine-tune tab scrolls: a plot must not swallow the wheel to zoom itself (it ignores
    the event, which Qt then hands to the scroll area around it) nor stop following the data."""
    plot = CurvePlot("losses")
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.show()
    for i in range(100):
        plot.add_point("loss", i, 1.0 / (i + 1))
    plot.grab()
    box = plot.view.getPlotItem().getViewBox()
    before = box.viewRange()
    viewport = plot.view.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)
    assert not event.isAccepted()
    assert box.viewRange() == before
    plot.add_point("loss", 200, 5.0)  # and it still follows the data
    plot.grab()
    assert box.viewRange()[0][1] >= 200 and box.viewRange()[1][1] >= 5.0

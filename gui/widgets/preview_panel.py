"""The preview: input | output | compared output | target side by side (synchronised zoom and
pan), a before/after wipe, and the readouts beside them. It only displays; the main window
computes comparisons on a worker and hands them here.

Every shown view gets an equal share of the row at any width (their size policy ignores the
images' own sizes), and a view with nothing to show is hidden rather than shown empty: the
target view only appears when the image has a target, the compared output only with a second
model. When an image fails, every view and readout says so instead of keeping the previous
image's pictures and scores.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from PySide6.QtWidgets import (QHBoxLayout, QProgressBar, QSizePolicy, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from gui.i18n import fill
from gui.plain import PlainLabel
from gui.widgets.compare_view import CompareView
from gui.widgets.image_view import ImageView, ViewSync
from gui.widgets.readouts import Readouts
from translator.evaluation import Comparison

READOUTS_WIDTH = 220


class PreviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input_view = ImageView(caption=self.tr("input"), placeholder=self.tr("Open a folder and pick an image"))
        self.output_view = ImageView(caption=self.tr("output"), placeholder=self.tr("Pick a model"))
        self.second_view = ImageView(caption=self.tr("compared model"))
        self.target_view = ImageView(caption=self.tr("target"))
        self.second_view.hide()
        self.target_view.hide()
        self.sync = ViewSync(self)
        row = QWidget()
        side = QHBoxLayout(row)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(4)
        for v in self.views():
            # Ignored: a view's width comes from its stretch alone, never from its image's size
            v.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
            v.setMinimumWidth(60)
            self.sync.add(v)
            side.addWidget(v, 1)
        self.wipe = CompareView()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(row, self.tr("Side by side"))
        self.tabs.addTab(self.wipe, self.tr("Before / after"))
        self.readouts = Readouts()
        self.readouts.heatmapToggled.connect(self._toggle_heatmap)
        self.status = PlainLabel(self.tr("Pick a model and open a folder of images."))
        self.status.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(8)
        self.busy.hide()
        column = QWidget()
        right = QVBoxLayout(column)
        right.setContentsMargins(8, 0, 8, 0)
        right.addWidget(self.status)
        right.addWidget(self.busy)
        right.addWidget(self.readouts)
        right.addStretch(1)
        column.setMinimumWidth(180)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(column)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setCollapsible(0, False)
        self.splitter.setSizes([1000, READOUTS_WIDTH])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.comparison: Comparison | None = None
        self.second: Comparison | None = None
        self.quick_shown = 0  # quick looks shown (large images show one before their full result)

    def views(self) -> list[ImageView]:
        """The side-by-side views, left to right."""
        return [self.input_view, self.output_view, self.second_view, self.target_view]

    def shown_views(self) -> list[ImageView]:
        return [v for v in self.views() if not v.isHidden()]

    def set_model_names(self, model: str | None, second: str | None, strength: float = 1.0) -> None:
        """Caption the output views with the models' names, and the strength when it is not 100 %
        (the second view shows only with a second model)."""
        at = fill(self.tr(" · %1 %"), round(strength * 100)) if strength < 1 else ""
        self.output_view.set_caption(fill(self.tr("output · %1"), model) + at if model else self.tr("output"))
        self.second_view.set_caption(fill(self.tr("output · %1"), second) + at if second else self.tr("compared model"))
        self.second_view.setVisible(second is not None)
        if second is None:
            self.second = None
            self.second_view.set_image(None)
            self.readouts.show_second(None, "")

    def show_busy(self, path: Path) -> None:
        self.status.setText(fill(self.tr("Translating %1…"), path.name))
        self.busy.setMaximum(0)  # busy until the first tile is done (if it tiles at all)
        self.busy.show()

    def show_quick(self, small_input: np.ndarray, small_output: np.ndarray, name: str = "") -> None:
        """A large image's quick look (translated downscaled) while its full resolution runs: the
        input and output views show it; the other views and the scores wait for the full result."""
        self.quick_shown += 1
        self.comparison = self.second = None
        self.input_view.set_image(small_input)
        self.output_view.set_image(small_output)
        for v in (self.second_view, self.target_view):
            v.set_image(None)
        self.wipe.set_images(small_input, small_output)
        self.readouts.clear()
        self.status.setText(fill(self.tr("%1: quick look at %2×%3; full resolution coming…"), name,
                                 small_output.shape[1], small_output.shape[0]))

    def show_progress(self, done: int, total: int) -> None:
        """Tile passes done inside the image being translated."""
        self.busy.setMaximum(max(1, total))
        self.busy.setValue(done)

    def show_idle(self, message: str | None = None) -> None:
        self.busy.hide()
        if message is not None:
            self.status.setText(message)

    def show_error(self, message: str) -> None:
        """The image (or model) failed: no view keeps the previous image's pictures or scores."""
        self.busy.hide()
        self.status.setText(message)
        self.comparison = self.second = None
        self.input_view.set_placeholder(self.tr("cannot show this image"))
        for v in self.views():
            v.set_image(None)
        self.target_view.hide()
        self.wipe.set_images(None, None)
        self.readouts.show_failed(message)

    def show_comparisons(self, c: Comparison, second: Comparison | None, name: str = "", second_name: str = "") -> None:
        """The main model's comparison, and optionally a second model's output of the same input."""
        self.second = second
        self.second_view.setVisible(second is not None)
        if second is not None:
            self.second_view.set_image(second.output)
        self.readouts.show_second(second, second_name)
        self.show_comparison(c, name)

    def show_comparison(self, c: Comparison, name: str = "") -> None:
        self.busy.hide()
        self.comparison = c
        self.input_view.set_image(c.input)
        self.output_view.set_image(c.output)
        self.target_view.set_image(c.target)
        self.target_view.setVisible(c.target is not None)
        heat = c.heatmap()
        self.output_view.set_overlay(heat, 1.0)
        self.output_view.set_overlay_visible(heat is not None and self.readouts.heatmap.isChecked())
        self.wipe.set_images(c.input, c.output)
        self.readouts.show_comparison(c)
        size = f"{c.output.shape[1]}×{c.output.shape[0]}"
        self.status.setText(f"{name} ({size})" if name else size)

    def _toggle_heatmap(self, on: bool) -> None:
        self.output_view.set_overlay_visible(on)

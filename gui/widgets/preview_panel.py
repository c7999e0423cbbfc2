"""The preview: input | output | target side by side (synchronised zoom and pan), a before/after
wipe, and the readouts. It only displays; the main window computes comparisons on a worker."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from gui.widgets.compare_view import CompareView
from gui.widgets.image_view import ImageView, ViewSync
from gui.widgets.readouts import Readouts
from translator.evaluation import Comparison


class PreviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input_view = ImageView(caption="input")
        self.output_view = ImageView(caption="output")
        self.target_view = ImageView(caption="target")
        self.second_view = ImageView(caption="second model")
        self.second_view.hide()
        self.sync = ViewSync(self)
        for v in (self.input_view, self.output_view, self.second_view, self.target_view):
            self.sync.add(v)
        side = QSplitter()
        for v in (self.input_view, self.output_view, self.second_view, self.target_view):
            side.addWidget(v)
        self.wipe = CompareView()
        self.tabs = QTabWidget()
        self.tabs.addTab(side, "Side by side")
        self.tabs.addTab(self.wipe, "Before / after")
        self.readouts = Readouts()
        self.readouts.heatmapToggled.connect(self._toggle_heatmap)
        self.status = QLabel("Pick a model and open a folder of images.")
        self.status.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.readouts)
        right.addWidget(self.status)
        right.addStretch(1)
        row = QHBoxLayout(self)
        row.addWidget(self.tabs, 1)
        holder = QWidget()
        holder.setLayout(right)
        holder.setFixedWidth(280)
        row.addWidget(holder)
        self.comparison: Comparison | None = None
        self.second: Comparison | None = None

    def show_busy(self, path: Path) -> None:
        self.status.setText(f"Translating {path.name}…")

    def show_error(self, message: str) -> None:
        self.status.setText(message)

    def show_comparisons(self, c: Comparison, second: Comparison | None, name: str = "", second_name: str = "") -> None:
        """The main model's comparison, and optionally a second model's output of the same input."""
        self.second = second
        self.second_view.setVisible(second is not None)
        if second is not None:
            self.second_view.set_caption(second_name or "second model")
            self.second_view.set_image(second.output)
        self.readouts.show_second(second, second_name)
        self.show_comparison(c, name)

    def show_comparison(self, c: Comparison, name: str = "") -> None:
        self.comparison = c
        self.input_view.set_image(c.input)
        self.output_view.set_image(c.output)
        self.target_view.set_image(c.target)
        heat = c.heatmap()
        self.output_view.set_overlay(heat, 1.0)
        self.output_view.set_overlay_visible(heat is not None and self.readouts.heatmap.isChecked())
        self.wipe.set_images(c.input, c.output)
        self.readouts.show_comparison(c)
        size = f"{c.output.shape[1]}×{c.output.shape[0]}"
        self.status.setText(f"{name} ({size})" if name else size)

    def _toggle_heatmap(self, on: bool) -> None:
        self.output_view.set_overlay_visible(on)

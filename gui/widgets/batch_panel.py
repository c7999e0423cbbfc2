"""Batch: translate the current folder into an output folder, with progress, rate, ETA, cancel,
the files that failed and why, and "open output folder". A rerun skips finished outputs.

A view of the session: the model, input folder and inference options are the ones the rest of
the window shows (`Session`); the output folder and format are the session's too, so they are
saved with it. The panel reads no other panel's widgets.

The worker coalesces progress events (at most one per 50 ms) but never an event reporting a
failed file (`keep`), so a run of files failing in quick succession are all listed.
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
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
    QVBoxLayout,
    QWidget,
)

from gui.i18n import QT_TRANSLATE_NOOP, fill, words
from gui.jobs import JobWorker
from gui.plain import PlainLabel, escaped, visible
from gui.session import Session
from gui.widgets.job_status import progress_text, show_progress
from gui.widgets.realism_readout import RealismReadout
from translator.choices import OUTPUT_FORMATS, Direction
from translator.inference import InferenceOptions, Translator, plan_outputs, translate_files
from translator.jobs import CancelToken, JobSummary, Progress
from translator.provenance import Provenance

TranslatorFor = Callable[[Path, Direction | None, InferenceOptions], Translator]
"""Gives the translator for (model file, direction, options); called on the worker thread."""

SAME_FORMAT = QT_TRANSLATE_NOOP("BatchPanel", "same as input")


class BatchPanel(QWidget):
    """The Batch tab. `start()` runs the session's folder through the session's model."""

    started = Signal(object)  # the JobWorker, once started
    finished = Signal(object)  # JobSummary, or None when cancelled/failed

    def __init__(self, session: Session, translator_for: TranslatorFor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._translator_for = translator_for
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.RichText)  # the app's own bold; the names in it are escaped
        self.summary.setWordWrap(True)
        self.output = QLineEdit()
        self.output.setPlaceholderText(self.tr("output folder"))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        self.recursive = QCheckBox(self.tr("include sub-folders"))
        self.format = QComboBox()
        self.format.addItem(QCoreApplication.translate("BatchPanel", SAME_FORMAT), None)
        for fmt in OUTPUT_FORMATS:
            self.format.addItem(fmt, fmt)
        self.run_button = QPushButton(self.tr("Run batch"))
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setEnabled(False)
        self.open_button = QPushButton(self.tr("Open output folder"))
        self.progress = QProgressBar()
        self.rate = PlainLabel("")
        self.rate.setWordWrap(True)  # an error names the folder and what to do: long
        self.failures = QListWidget()
        self.failures.setToolTip(self.tr("files that could not be translated, and why"))
        self.failures_label = QLabel(self.tr("Files that failed:"))

        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.tr("Output folder"), out_row)
        form.addRow(self.tr("Format"), self.format)
        form.addRow("", self.recursive)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.rate)
        self.realism = RealismReadout()  # KID/FID against the target folder, after a run
        layout.addWidget(self.realism)
        layout.addWidget(self.failures_label)
        layout.addWidget(self.failures, 1)
        layout.addStretch(1)  # keeps the form at the top while no file has failed
        self._layout = layout
        self._show_failures(False)

        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._open_output)
        self.output.editingFinished.connect(self._ask_output)
        self.format.activated.connect(lambda _i: session.set_output_format(self.format.currentData()))
        for signal in (session.modelChanged, session.directionChanged, session.inputFolderChanged, session.optionsChanged,
                       session.strengthChanged):
            signal.connect(self._show_summary)
        session.outputFolderChanged.connect(self._show_output)
        session.outputFormatChanged.connect(self._show_format)
        self._show_output(session.output_folder)
        self._show_format(session.output_format)
        self._show_summary()
        self.worker: JobWorker | None = None
        self._summary: JobSummary | None = None
        self._measuring: JobSummary | None = None  # a finished run whose outputs are being scored
        self.realism.ended.connect(self._measured)

    # views of the session -----------------------------------------------------------------------
    def _show_summary(self, *_args: object) -> None:
        s = self.session
        model = s.model_path.stem if s.model_path else None
        if model is None or s.input_folder is None:
            self.summary.setText(self.tr("Pick a model and open a folder: the batch translates every image in it."))
            return
        o = s.options
        folder, name = f"<b>{escaped(s.input_folder.name)}</b>", f"<b>{escaped(model)}</b>"
        device, precision, mode = words.label(o.device), words.label(o.precision), words.label(o.mode)
        if s.strength < 1:
            text = fill(self.tr("Translate every image in %1 with %2 (device %3, precision %4, %5 mode, at %6 % strength)."),
                        folder, name, device, precision, mode, round(s.strength * 100))
        else:
            text = fill(self.tr("Translate every image in %1 with %2 (device %3, precision %4, %5 mode)."),
                        folder, name, device, precision, mode)
        self.summary.setText(text)

    def _show_output(self, folder: Path | None) -> None:
        self.output.setText(str(folder) if folder is not None else "")

    def _show_format(self, fmt: str | None) -> None:
        self.format.setCurrentIndex(max(0, self.format.findData(fmt)))

    def _ask_output(self) -> None:
        text = self.output.text().strip()
        self.session.set_output_folder(Path(text).expanduser() if text else None)

    # the job --------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        """True from Run until `finished`: translating, then scoring the outputs."""
        return (self.worker is not None and self.worker.is_running()) or self._measuring is not None

    def start(self) -> None:
        """Translate the session's folder into its output folder; the translator is built on the
        worker (loading a model can take a while)."""
        if self.is_running():
            return
        self._ask_output()  # a path typed but not yet confirmed counts
        s = self.session
        model, folder, out = s.model, s.input_folder, s.output_folder
        if model is None or folder is None:
            self.rate.setText(self.tr("Pick a model and open a folder first."))
            return
        if out is None:
            self.rate.setText(self.tr("Choose an output folder first."))
            return
        fmt, recursive, options, strength = s.output_format, self.recursive.isChecked(), s.options, s.strength
        translator_for = self._translator_for

        def job(token: CancelToken) -> Generator[Progress, None, JobSummary]:
            items = plan_outputs([folder], out, recursive=recursive, fmt=fmt)
            tr = translator_for(model[0], model[1], options)
            settings = Provenance.from_options(options, model_path=model[0], model_name=tr.name, direction=tr.direction,
                                               strength=strength, output_format=fmt, quality=95,
                                               precision_used=tr.precision)  # written into every output
            return (yield from translate_files(tr, items, strength=strength, token=token, settings=settings))

        self.realism.cancel()
        self.realism.setVisible(False)
        self.failures.clear()
        self._show_failures(False)
        self.progress.setValue(0)
        self.rate.setText(self.tr("starting…"))
        worker = JobWorker(job, name="batch", min_interval_s=0.05, keep=lambda event: event.failed)
        worker.on(progress=self._progress, result=self._done, failed=self._failed, cancelled=self._cancelled,
                  finished=self._finished)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        worker.start()
        self.started.emit(worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self.realism.cancel()

    def _progress(self, p: Progress) -> None:
        show_progress(self.progress, p)
        self.rate.setText(progress_text(p, self.tr("images")))
        if p.failed:
            assert p.result is not None
            self.failures.addItem(visible(p.result.error or str(p.result.item), lines=True))
            self._show_failures(True)

    def _show_failures(self, on: bool) -> None:
        """The list of failed files takes the free room when there is one; else the form stays on top."""
        self.failures.setVisible(on)
        self.failures_label.setVisible(on)
        self._layout.setStretch(self._layout.count() - 1, 0 if on else 1)

    def _done(self, summary: JobSummary) -> None:
        self.rate.setText(fill(self.tr("written %1, skipped %2 (already done), failed %3"),
                               len(summary.written), len(summary.skipped), len(summary.failed)))
        self._summary = summary

    def _failed(self, message: str) -> None:
        self.rate.setText(message)

    def _cancelled(self) -> None:
        self.rate.setText(self.tr("cancelled: finished outputs are kept; run again to continue"))

    def _finished(self) -> None:
        summary, self._summary = self._summary, None
        self.worker = None
        if summary is not None and self._measure_realism():
            self._measuring = summary  # the run ends (`finished`) once its outputs are scored or Cancel is pressed
            return
        self._end(summary)

    def _end(self, summary: JobSummary | None) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.finished.emit(summary)

    def _measured(self) -> None:
        summary, self._measuring = self._measuring, None
        if summary is not None:
            self._end(summary)

    def _measure_realism(self) -> bool:
        """Start scoring this batch's outputs (KID/FID) against the session's target folder, when it
        has one; False when nothing was started."""
        s = self.session
        targets, folder, out = s.target_folder, s.input_folder, s.output_folder
        if targets is None or folder is None or out is None:
            return False
        recursive, fmt = self.recursive.isChecked(), s.output_format

        def outputs() -> list[Path]:
            return [it.dst for it in plan_outputs([folder], out, recursive=recursive, fmt=fmt) if it.dst.is_file()]

        return self.realism.measure(targets, outputs, s.options.device, s.options.precision)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Output folder"), self.output.text())
        if folder:
            self.session.set_output_folder(Path(folder))

    def _open_output(self) -> None:
        if self.session.output_folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.session.output_folder)))

"""Making training pairs from a folder of photos, in the Fine-tune tab.

`PairsOffer` is shown when the dataset folder holds photos but no pairs (`translator.pairs.
scan_or_photos` found a `PhotoFolder`). It offers a kind of pair (`translator.choices.PAIR_KINDS`),
a size and a number of variants per photo; before anything is written it shows a few pairs made
in memory (`translator.pairs.preview_pairs`) in a `PairsPreview`, computed on a `LatestOnly`
worker so that changing the kind or size supersedes the one computing. "Make pairs" runs
`translator.pairs.make_pairs` on a `JobWorker` into `<photos>_<kind>_pairs` beside the photo
folder (or a folder the user picks), with progress, Cancel and the files that failed and why;
`made(photos, folder)` then says where the pairs are.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Generator
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from gui.i18n import QT_TRANSLATE_NOOP, fill, words
from gui.jobs import JobWorker, LatestOnly
from gui.plain import PlainLabel, literal, visible
from gui.widgets.job_status import progress_text
from gui.widgets.pairs_preview import PairsPreview
from translator.choices import PAIR_KIND_HELP, PAIR_KINDS, PairKind
from translator.jobs import CancelToken, Progress
from translator.pairs import PairsSummary, default_pairs_folder, make_pairs, preview_pairs

log = logging.getLogger(__name__)

PREVIEW_COUNT = 4

KIND_LABELS: dict[PairKind, str] = {
    "lineart": QT_TRANSLATE_NOOP("PairsOffer", "line art — learn sketch → photo"),
    "edges": QT_TRANSLATE_NOOP("PairsOffer", "edges — learn edge map → photo"),
    "gray": QT_TRANSLATE_NOOP("PairsOffer", "gray — learn to colourise"),
    "blur": QT_TRANSLATE_NOOP("PairsOffer", "blur — learn to sharpen"),
    "downscale": QT_TRANSLATE_NOOP("PairsOffer", "downscale — learn to upscale"),
}
"""The kind menu's entries (translated when shown): what a model trained on such pairs learns to do."""


class PairsOffer(QGroupBox):
    """Offer to make training pairs from a folder of photos; see the module docstring."""

    made = Signal(Path, Path)  # the photo folder, the folder of pairs made from it
    started = Signal(object)  # the JobWorker making pairs, once started

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Make training pairs from these photos"))
        self.kind = QComboBox()
        for kind in PAIR_KINDS:
            self.kind.addItem(QCoreApplication.translate("PairsOffer", KIND_LABELS[kind]), kind)
            self.kind.setItemData(self.kind.count() - 1, words.help_text("pairs", kind, PAIR_KIND_HELP[kind]),
                                  Qt.ItemDataRole.ToolTipRole)
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.kind.setMinimumContentsLength(16)  # long labels elide rather than widen the tab
        self.pair_size = QSpinBox()
        self.pair_size.setRange(32, 4096)
        self.pair_size.setSingleStep(32)
        self.pair_size.setSuffix(" px")
        self.pair_size.setToolTip(self.tr("side of the square pairs; the starting model's training size unless you change it"))
        self.variants = QSpinBox()
        self.variants.setRange(1, 32)
        self.variants.setToolTip(self.tr("how many different pairs (crops, line widths) to make from each photo"))
        self.folder = QLineEdit()
        browse = QPushButton(self.tr("Browse…"))
        self.overwrite = QCheckBox(self.tr("overwrite"))
        self.overwrite.setToolTip(self.tr("make every pair again, replacing those already in the folder\n"
                                          "(unticked: pairs already made are kept and the rest are added)"))
        self.make_button = QPushButton(self.tr("Make pairs"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.progress = QProgressBar()
        self.status = PlainLabel()  # progress, and messages that name folders and photos
        self.status.setWordWrap(True)
        self.failures_label = QLabel(self.tr("Photos that failed:"))
        self.failures = QListWidget()
        self.failures.setToolTip(self.tr("photos no pair could be made from, and why"))
        self.failures.setWordWrap(True)  # the reason matters more than the folder: wrap, never scroll sideways
        self.failures.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.failures.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.failures.setMaximumHeight(self.failures.fontMetrics().lineSpacing() * 4)
        self.preview = PairsPreview()

        sizes = QHBoxLayout()
        sizes.addWidget(self.pair_size)
        sizes.addWidget(QLabel(self.tr("variants per photo")))
        sizes.addWidget(self.variants)
        sizes.addStretch(1)
        into = QHBoxLayout()
        into.addWidget(self.folder, 1)
        into.addWidget(browse)
        into.addWidget(self.overwrite)
        form = QFormLayout()
        form.addRow(self.tr("Pairs"), self.kind)
        form.addRow(self.tr("Size"), sizes)
        form.addRow(self.tr("Into"), into)
        run = QHBoxLayout()
        run.addWidget(self.make_button)
        run.addWidget(self.cancel_button)
        run.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addLayout(run)
        layout.addWidget(self.status)
        layout.addWidget(self.failures_label)
        layout.addWidget(self.failures)

        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.pair_size.valueChanged.connect(self.refresh_preview)
        browse.clicked.connect(self._browse)
        self.make_button.clicked.connect(self.make)
        self.cancel_button.clicked.connect(self.cancel)
        self._previews = LatestOnly(self, name="pairs-preview")
        self._previews.failed.connect(lambda message: self.preview.show_message(message, error=True))
        self._worker: JobWorker | None = None
        self._photos: Path | None = None
        self._made: Path | None = None
        self._default_size = 256
        self.pair_size.setValue(self._default_size)
        self._show_failures(False)
        self._update_buttons()

    # inputs ---------------------------------------------------------------------------------
    def set_photos(self, photos: Path, *, size: int = 256) -> None:
        """Offer pairs made from the photos directly in `photos`; `size` is the default pair size,
        kept only while the user has not chosen another."""
        changed = photos != self._photos
        self._photos = photos
        if self.pair_size.value() == self._default_size:
            with QSignalBlocker(self.pair_size):  # one preview, below, not two
                self.pair_size.setValue(size)
        self._default_size = size
        self._show_folder()
        if changed and not self.running():
            self.status.setText("")
            self.progress.setValue(0)
            self.failures.clear()
            self._show_failures(False)
        self.refresh_preview()

    def forget_photos(self) -> None:
        """The folder is no longer one of photos: drop the preview being made for it."""
        self._previews.cancel()
        self._photos = None
        self.preview.set_pairs([])

    def photos(self) -> Path | None:
        return self._photos

    def made_folder(self) -> Path | None:
        """The folder the last finished "Make pairs" wrote into."""
        return self._made

    def pair_kind(self) -> PairKind:
        kind: PairKind = self.kind.currentData()
        return kind

    def output_folder(self) -> Path | None:
        """The folder the user typed, else `<photos>_<kind>_pairs`; None before there are photos."""
        text = self.folder.text().strip()
        if text:
            return Path(text).expanduser()
        return default_pairs_folder(self._photos, self.pair_kind()) if self._photos is not None else None

    def refresh_preview(self, *_: object) -> None:
        """Make a few pairs in memory, on a worker; a newer request supersedes it."""
        photos = self._photos
        if photos is None:
            return
        kind, size = self.pair_kind(), self.pair_size.value()
        self.preview.show_message(self.tr("making a few pairs to show…"))
        self._previews.submit(lambda token: preview_pairs(photos, kind, size, count=PREVIEW_COUNT, token=token),
                             self.preview.set_pairs)

    def _on_kind_changed(self, *_: object) -> None:
        self._show_folder()
        self.refresh_preview()

    def _show_folder(self) -> None:
        out = self.output_folder() if not self.folder.text().strip() else None
        self.folder.setPlaceholderText(str(out) if out is not None else "")

    # the job --------------------------------------------------------------------------------
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_running()

    def make(self) -> None:
        """Make pairs from the photos into the output folder, on a worker."""
        photos, out = self._photos, self.output_folder()
        if self.running() or photos is None or out is None:
            return
        kind, size, variants = self.pair_kind(), self.pair_size.value(), self.variants.value()
        overwrite = self.overwrite.isChecked()

        def job(token: CancelToken) -> Generator[Progress, None, PairsSummary]:
            return make_pairs(photos, out, kind=kind, size=size, variants=variants, overwrite=overwrite, token=token)

        self.failures.clear()
        self._show_failures(False)
        self.progress.setValue(0)
        self.status.setText(fill(self.tr("making %1 pairs in %2…"), kind, out))
        worker = JobWorker(job, name="make-pairs", min_interval_s=0.05, keep=lambda event: event.failed)
        worker.on(progress=partial(self._progress, photos), result=partial(self._done, photos, out), failed=self._failed,
                  cancelled=self._cancelled, finished=self._finished)
        self._worker = worker
        worker.start()
        self._update_buttons()
        self.started.emit(worker)

    def cancel(self) -> None:
        """Stop making pairs: the pairs finished so far are kept whole; nothing partial is left."""
        if self._worker is not None:
            self._worker.cancel()

    def _progress(self, photos: Path, p: Progress) -> None:
        self.progress.setMaximum(max(1, p.total))
        self.progress.setValue(p.done)
        self.status.setText(progress_text(p, self.tr("photos")))
        if p.failed:
            assert p.result is not None
            full = p.result.error or str(p.result.item)
            # "name.jpg: why": the folder is known
            self.failures.addItem(visible(full.removeprefix(f"{photos}{os.sep}"), lines=True))
            self.failures.item(self.failures.count() - 1).setToolTip(literal(full))
            self._show_failures(True)

    def _done(self, photos: Path, out: Path, summary: PairsSummary) -> None:
        self._made = out
        # English needs a singular and a plural; a language without (Korean) translates both alike
        written, skipped, failed = len(summary.written), len(summary.skipped), len(summary.failed)
        text = fill(self.tr("made 1 pair in %2") if written == 1 else self.tr("made %1 pairs in %2"), written, out)
        if skipped:
            text += fill(self.tr(", kept 1 pair already made") if skipped == 1 else self.tr(", kept %1 pairs already made"),
                         skipped)
        if failed:
            text += fill(self.tr("; 1 photo failed (listed below)") if failed == 1 else
                         self.tr("; %1 photos failed (listed below)"), failed)
        self.status.setText(text)
        if summary.written or summary.skipped:
            self.made.emit(photos, out)

    def _failed(self, message: str) -> None:
        self.status.setText(message)

    def _cancelled(self) -> None:
        self.status.setText(self.tr("cancelled: the pairs made so far are kept whole; Make pairs again continues"))

    def _finished(self) -> None:
        self._worker = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.running()
        self.make_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _show_failures(self, on: bool) -> None:
        self.failures.setVisible(on)
        self.failures_label.setVisible(on)

    def _browse(self) -> None:
        start = str(self.output_folder() or "")
        folder = QFileDialog.getExistingDirectory(self, self.tr("Folder for the pairs"), start)
        if folder:
            self.folder.setText(folder)


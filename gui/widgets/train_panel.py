"""Fine-tune: train a model on a dataset folder, with live curves, samples, pause and resume.

A folder of photos alone (images in no dataset layout) gets, in place, the offer to make training
pairs from them (`gui.widgets.pairs_offer.PairsOffer`); once made, the dataset folder becomes
the folder of pairs, so Start trains on them.

The panel builds a `TrainConfig` from its widgets and runs `translator.training.train` on a
`JobWorker`. Pause cancels the job (training saves a checkpoint and `RUN/model.safetensors`
when cancelled) and remembers the run; Resume runs `train(config, resume=True)` on the same run
folder. "Resume a run…" reads an existing run's `config.json`, so a run continues after the app
was closed. Run folders live in `runs_dir()` (next to the user models folder).

Events: the worker is throttled (`min_interval_s=0.1`, so a fast tiny model cannot flood the UI
thread), which coalesces progress events. So that no curve point, validation or sample is lost
with a dropped event, the job (on the worker thread) also appends every event, with its sample
image already decoded, to a thread-safe deque that the UI drains whenever an event arrives; the
bridge always delivers the last event before the outcome, so the deque is empty at the end.

`modelReady(Path)` is emitted whenever a run leaves a model file: finished, paused or cancelled.
The panel only emits it; the main window refreshes its model picker and copies or links the
file into the models folder as it sees fit.

`config_overrides(**settings)` sets any other `TrainConfig` field (architecture, sizes, how
often to validate...): the hook for power users and tests; overrides win over the widgets.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Generator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from gui.i18n import fill
from gui.jobs import JobWorker, LatestOnly
from gui.plain import PlainLabel, literal
from gui.widgets.fold import Fold
from gui.widgets.pairs_offer import PairsOffer
from gui.widgets.train_monitor import TrainMonitor
from translator import imaging
from translator.choices import KINDS
from translator.datasets import DatasetScan
from translator.errors import TranslatorError
from translator.jobs import CancelToken, format_duration
from translator.paths import user_models_dir
from translator.pairs import PhotoFolder, scan_or_photos
from translator.presets import preset_settings
from translator.realism import FEATURES_EXTRA_HINT, feature_net_available
from translator.training import TrainConfig, TrainProgress, TrainResult, train
from translator.training_parts.kid import KID_EVERY

log = logging.getLogger(__name__)
_Event = tuple[TrainProgress, np.ndarray | None]  # an event and its decoded sample grid
_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def runs_dir() -> Path:
    """Where the panel puts run folders: `user_models_dir().parent / "runs"`."""
    return user_models_dir().parent / "runs"


def default_run_name() -> str:
    return datetime.now().strftime("finetune-%Y%m%d-%H%M%S")


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    return box


def _dspin(lo: float, hi: float, value: float, *, decimals: int = 2, step: float = 1.0) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _observed(config: TrainConfig, resume: bool, sink: deque[_Event], token: CancelToken) -> Generator[TrainProgress, None, TrainResult]:
    """`train()`, recording every event (and its sample, decoded here, off the UI thread) in `sink`."""
    events = train(config, resume=resume, token=token)
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                result: TrainResult = stop.value
                return result
            rgb = None
            if event.sample is not None:
                try:
                    rgb = imaging.read_image(event.sample).rgb
                except (TranslatorError, OSError) as exc:
                    log.warning("cannot show the sample %s: %s", event.sample, exc)
            sink.append((event, rgb))
            yield event
    finally:
        events.close()


class TrainPanel(QWidget):
    """The "Fine-tune" tab; see the module docstring."""

    modelReady = Signal(Path)  # noqa: N815 (Qt naming) — a run's model file exists
    started = Signal(object)  # the JobWorker of the run, once started
    stopped = Signal()  # a run ended (finished, paused, cancelled or failed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText(self.tr("dataset folder (A/ + B/, trainA/ + trainB/, AB images) or a folder of photos"))
        browse = QPushButton(self.tr("Browse…"))
        self.data_info = PlainLabel()  # what the folder holds: folder names, messages
        self.data_info.setMinimumHeight(self.data_info.fontMetrics().lineSpacing() * 4)  # the whole report
        self.data_info.setWordWrap(True)
        self.pairs = PairsOffer()  # shown for a folder of photos without pairs
        self.start_model_label = PlainLabel(self.tr("no model selected"))  # a file name
        self.from_selected = QCheckBox(self.tr("start from the selected model"))
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.recipe = QComboBox()
        self.recipe.addItem(self.tr("default — tuned for short runs on small folders"), "default")
        self.recipe.addItem(self.tr("classic — the reference implementation's settings"), "classic")
        self.recipe.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.recipe.setMinimumContentsLength(16)  # long recipe names elide rather than widen the tab
        self.recipe.setToolTip(self.tr("The settings a run starts from; the fields below show them and may be changed.\n"
                                       "Architecture and loss choices come from the recipe (see README, Fine-tuning)."))
        self.steps = _spin(1, 10_000_000, 1000)
        self.lr = _dspin(1e-6, 1.0, 2e-4, decimals=6, step=1e-5)
        self.lambda_l1 = _dspin(0.0, 10_000.0, 100.0)
        self.lambda_cycle = _dspin(0.0, 10_000.0, 10.0)
        self.crop_size = _spin(8, 4096, 256)
        self.batch_size = _spin(1, 256, 1)
        self.ema = QCheckBox(self.tr("EMA of the generator's weights"))
        self.ada = QCheckBox(self.tr("adaptive augmentation (small datasets)"))
        self.kid_data = QLineEdit()  # KID validation: a held-out folder, laid out like the dataset
        self.kid_every = _spin(1, 10_000_000, KID_EVERY)
        if feature_net_available():
            self.kid_data.setPlaceholderText(self.tr("optional: held-out images the run does not train on"))
            self.kid_data.setToolTip(self.tr("Every so many steps the model translates these images and their KID "
                                             "against the folder's targets is drawn beside PSNR and SSIM; the model "
                                             "with the lowest KID is kept as best-kid.safetensors."))
        else:
            self.kid_data.setEnabled(False)
            self.kid_every.setEnabled(False)
            self.kid_data.setPlaceholderText(self.tr("KID needs the feature network (see tooltip)"))
            self.kid_data.setToolTip(FEATURES_EXTRA_HINT)
        self.name_edit = QLineEdit(default_run_name())
        self.start_button = QPushButton(self.tr("Start"))
        self.pause_button = QPushButton(self.tr("Pause"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.resume_run_button = QPushButton(self.tr("Resume a run…"))
        self.progress = QProgressBar()
        self.status = PlainLabel()  # names the run folder
        self.error = PlainLabel()  # messages that name files and folders
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828")
        self.monitor = TrainMonitor()
        m = self.monitor
        self.loss_plot, self.acc_plot, self.rt_plot = m.loss_plot, m.acc_plot, m.rt_plot
        self.psnr_plot, self.ssim_plot, self.sample_view = m.psnr_plot, m.ssim_plot, m.sample_view

        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(browse)
        self.form = QFormLayout()
        for label, field in ((self.tr("Dataset"), data_row), ("", self.data_info),
                             (self.tr("Starting model"), self.start_model_label), ("", self.from_selected),
                             (self.tr("Kind (from scratch)"), self.kind), (self.tr("Recipe"), self.recipe),
                             (self.tr("Steps"), self.steps), (self.tr("Run name"), self.name_edit)):
            self.form.addRow(label, field)
        self.form.insertRow(2, self.pairs)  # in place, under the report that offers it
        self.form.setRowVisible(self.pairs, False)
        # The recipe sets these; a user rarely changes them, so they fold away ("Advanced").
        advanced_box = QWidget()
        self.advanced_form = QFormLayout(advanced_box)
        self.advanced_form.setContentsMargins(0, 0, 0, 0)
        advanced_rows: tuple[tuple[str, QWidget], ...] = (
            (self.tr("Learning rate"), self.lr), ("λ L1", self.lambda_l1), (self.tr("λ cycle"), self.lambda_cycle),
            (self.tr("Crop size"), self.crop_size), (self.tr("Batch size"), self.batch_size), ("", self.ema), ("", self.ada),
            (self.tr("KID held-out folder"), self.kid_data), (self.tr("KID every (steps)"), self.kid_every))
        for label, widget in advanced_rows:
            self.advanced_form.addRow(label, widget)
        self.advanced = Fold(self.tr("Advanced (from the recipe)"), advanced_box)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.cancel_button, self.resume_run_button):
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addLayout(self.form)
        left.addWidget(self.advanced)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.error)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addWidget(self.monitor, 3)

        browse.clicked.connect(self._browse)
        self.data_edit.editingFinished.connect(self.rescan)
        self.from_selected.toggled.connect(self._on_source_changed)
        self.kind.currentIndexChanged.connect(self._on_source_changed)
        self.recipe.currentIndexChanged.connect(self._apply_recipe)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._pause_or_resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_run_button.clicked.connect(self._pick_run)
        self.pairs.made.connect(self._use_pairs)
        self._scanner = LatestOnly(self, name="scan-dataset")
        self._scanner.failed.connect(partial(self._show_scan, None))
        self._worker: JobWorker | None = None
        self._events: deque[_Event] = deque()
        self._config: TrainConfig | None = None  # the running (or paused) run
        self._pausing = False
        self._paused = False
        self._overrides: dict[str, Any] = {}
        self._start_path: Path | None = None
        self._start_kind: str | None = None
        self._recipe_shown: tuple[str, str] | None = None
        self.set_start_model(None, None)
        self._update_buttons()

    # inputs ---------------------------------------------------------------------------------
    def set_start_model(self, path: Path | None, kind: str | None) -> None:
        """The model selected in the main window's picker (fine-tuning starts from it when ticked)."""
        self._start_path, self._start_kind = path, kind
        usable = path is not None and kind in KINDS
        self.start_model_label.setText(f"{path.name} ({kind})" if path is not None and usable else self.tr("no model selected"))
        self.from_selected.setEnabled(usable)
        self.from_selected.setChecked(usable)
        self._on_source_changed()

    def set_data_folder(self, folder: Path | str) -> None:
        self.data_edit.setText(str(folder))
        self.rescan()

    def config_overrides(self, **settings: Any) -> None:
        """Set other `TrainConfig` fields (e.g. generator="unet_32", workers=0); they win over the widgets."""
        unknown = sorted(set(settings) - _FIELDS)
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
        self._overrides.update(settings)
        if "kind" in settings:
            self._on_source_changed()

    def training_kind(self) -> str:
        """pix2pix or cyclegan: the selected model's kind when starting from it, else the combo's."""
        if "kind" in self._overrides:
            return str(self._overrides["kind"])
        if self.from_selected.isChecked() and self._start_kind is not None:
            return self._start_kind
        return self.kind.currentText()

    def build_config(self) -> TrainConfig:
        """The configuration the widgets (and overrides) describe; raises TranslatorError/ValueError."""
        data = self.data_edit.text().strip()
        if not data:
            raise TranslatorError(self.tr("choose a dataset folder first"))
        name = self.name_edit.text().strip()
        if not name or Path(name).name != name or name in (".", ".."):
            raise TranslatorError(fill(self.tr("%1 is not a usable run name: use a plain folder name"), repr(name)))
        crop = self.crop_size.value()
        values: dict[str, Any] = dict(
            steps=self.steps.value(),
            from_model=str(self._start_path) if self.from_selected.isChecked() and self._start_path else None,
            lr=self.lr.value(), lambda_l1=self.lambda_l1.value(), lambda_cycle=self.lambda_cycle.value(),
            load_size=max(crop, round(crop * 286 / 256)), crop_size=crop, batch_size=self.batch_size.value(),
            ema=self.ema.isChecked(), ada=self.ada.isChecked(),
        )
        held_out = self.kid_data.text().strip() if self.kid_data.isEnabled() else ""
        if held_out:
            values.update(kid_data=Path(held_out).expanduser(), kid_every=self.kid_every.value())
        values.update(self._overrides)
        kind = values.pop("kind", self.training_kind())
        return TrainConfig.from_preset(self.recipe.currentData(), kind, Path(data).expanduser(), runs_dir() / name, **values)

    def rescan(self) -> None:
        """Scan the dataset folder on a worker and say what it holds (or what is wrong with it);
        a folder of photos without pairs gets the offer to make pairs from them."""
        text = self.data_edit.text().strip()
        if not text:
            self._show_scan(None, "")
            return
        root, paired = Path(text).expanduser(), self.training_kind() == "pix2pix"
        start = self._start_path if self.from_selected.isChecked() else None
        self.data_info.setStyleSheet("")
        self.data_info.setText(self.tr("scanning…"))
        self._scanner.submit(lambda: scan_or_photos(root, paired=paired, start_model=start), partial(self._show_scan, root))

    def _show_scan(self, root: Path | None, found: DatasetScan | PhotoFolder | str) -> None:
        self.data_info.setStyleSheet("color: #c62828" if isinstance(found, str) else "")
        text = found if isinstance(found, str) else found.describe()
        self.data_info.setText(text)
        self.data_info.setToolTip(literal(text))  # the whole report, when the panel is short of room
        if isinstance(found, PhotoFolder):
            self.pairs.set_photos(found.root, size=found.size)
        # The offer stays while it makes pairs, and beside the pairs it made (its report, its failures).
        made = root is not None and root == self.pairs.made_folder()
        offer = isinstance(found, PhotoFolder) or self.pairs.running() or made
        self.form.setRowVisible(self.pairs, offer)
        if not offer:
            self.pairs.forget_photos()

    def _use_pairs(self, photos: Path, pairs: Path) -> None:
        """Pairs were made: train on them (and say what they are now), unless the user has chosen
        another folder meanwhile."""
        text = self.data_edit.text().strip()
        if text and Path(text).expanduser() in (photos, pairs):
            self.set_data_folder(pairs)

    def _apply_recipe(self, *_: object) -> None:
        """Show the selected recipe's values (for the current kind) in the fields — only when the
        recipe or the kind changed, so values the user typed survive picking another model."""
        shown = (self.recipe.currentData(), self.training_kind())
        if shown == self._recipe_shown:
            return
        self._recipe_shown = shown
        values = preset_settings(*shown)
        self.lr.setValue(values["lr"])
        self.lambda_l1.setValue(values.get("lambda_l1", self.lambda_l1.value()))
        self.lambda_cycle.setValue(values.get("lambda_cycle", self.lambda_cycle.value()))
        self.crop_size.setValue(values["crop_size"])
        self.batch_size.setValue(values["batch_size"])
        self.ema.setChecked(bool(values["ema"]))
        self.ada.setChecked(bool(values["ada"]))

    def _on_source_changed(self, *_: object) -> None:
        scratch = not (self.from_selected.isChecked() and self._start_kind is not None)
        self.kind.setEnabled(scratch)
        self._apply_recipe()
        p2p = self.training_kind() == "pix2pix"
        self.advanced_form.setRowVisible(self.lambda_l1, p2p)
        self.advanced_form.setRowVisible(self.lambda_cycle, not p2p)
        if self.data_edit.text().strip():
            self.rescan()

    # running --------------------------------------------------------------------------------
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_running()

    def is_paused(self) -> bool:
        return self._paused and not self.running()

    def run_dir(self) -> Path | None:
        """The folder of the running, paused or last run."""
        return self._config.out if self._config is not None else None

    def start(self) -> None:
        """Start a new run from the widgets' settings."""
        if self.running():
            return
        try:
            config = self.build_config()
        except (TranslatorError, ValueError) as exc:
            self.error.setText(str(exc))
            return
        self.monitor.clear()
        self._launch(config, resume=False)

    def resume(self) -> None:
        """Continue the paused run."""
        if self._config is not None and not self.running():
            self._launch(self._config, resume=True)

    def resume_run(self, run: Path) -> None:
        """Continue the run in folder `run` (its config.json), e.g. one left when the app was closed."""
        if self.running():
            return
        try:
            config = TrainConfig.from_file(Path(run) / "config.json")
        except (TranslatorError, ValueError, TypeError) as exc:
            self.error.setText(fill(self.tr("%1: cannot resume: %2"), run, exc))
            return
        self.monitor.clear()
        self.monitor.load_log(Path(run) / "log.jsonl")  # the curves so far
        self._launch(dataclasses.replace(config, out=Path(run)), resume=True)

    def pause(self) -> None:
        """Stop the run with a checkpoint; `resume()` continues it."""
        if self.running() and self._worker is not None:
            self._pausing = True
            self.status.setText(self.tr("pausing: saving a checkpoint…"))
            self._worker.cancel()

    def cancel(self) -> None:
        """Stop the run (a checkpoint is saved, so "Resume a run…" can still continue it)."""
        if self.running() and self._worker is not None:
            self._pausing = False
            self._worker.cancel()
        elif self._paused:
            self._paused = False
            self.status.setText(self.tr("paused run dropped; its folder is kept"))
            self._update_buttons()

    def _launch(self, config: TrainConfig, *, resume: bool) -> None:
        self._config, self._pausing, self._paused = config, False, False
        self._events = events = deque[_Event]()
        self.error.setText("")
        self.status.setText(self.tr("resuming…") if resume else self.tr("starting…"))
        worker = JobWorker(partial(_observed, config, resume, events), name="train", min_interval_s=0.1)
        worker.on(progress=self._drain, result=self._done, failed=self._failed, cancelled=self._cancelled,
                  finished=self._finished)
        self._worker = worker
        worker.start()
        self._update_buttons()
        self.started.emit(worker)

    def _drain(self, *_: object) -> None:
        last: TrainProgress | None = None
        while self._events:
            last, rgb = self._events.popleft()
            self.monitor.add(last, rgb)
        if last is not None:
            self.progress.setMaximum(max(1, last.total))
            self.progress.setValue(last.done)
            template = (self.tr("D warm-up: step %1/%2 · %3 steps/s · ETA %4") if last.phase == "warmup" else
                        self.tr("training: step %1/%2 · %3 steps/s · ETA %4"))
            self.status.setText(fill(template, last.done, last.total, f"{last.rate:.2f}", format_duration(last.eta_s, "–")))

    def _done(self, result: TrainResult) -> None:
        text = fill(self.tr("done: %1 steps; model saved to %2"), result.steps_done, result.model_path)
        if result.best_kid is not None:
            text += "\n" + fill(self.tr("lowest held-out KID %1 at step %2: %3"), f"{result.best_kid_value:.4f}",
                                 result.best_kid_step, result.best_kid)
        self.status.setText(text)
        self.name_edit.setText(default_run_name())  # the next Start makes a new run
        self.modelReady.emit(result.model_path)

    def _failed(self, message: str) -> None:
        self._pausing = False
        self.error.setText(message)

    def _cancelled(self) -> None:
        self._drain()
        run = self.run_dir()
        if self._pausing:
            self._paused = True
            self.status.setText(fill(self.tr("paused; Resume continues %1"), run))
        else:
            self.status.setText(fill(self.tr("cancelled; the checkpoint in %1 can be continued with “Resume a run…”"), run))
        model = run / "model.safetensors" if run is not None else None
        if model is not None and model.is_file():
            self.modelReady.emit(model)

    def _finished(self) -> None:
        self._drain()
        self._worker, self._pausing = None, False
        self._update_buttons()
        self.stopped.emit()

    def _update_buttons(self) -> None:
        busy = self.running()
        self.start_button.setEnabled(not busy)
        self.resume_run_button.setEnabled(not busy)
        self.pause_button.setEnabled(busy or self._paused)
        self.pause_button.setText(self.tr("Resume") if self._paused and not busy else self.tr("Pause"))
        self.cancel_button.setEnabled(busy or self._paused)

    def _pause_or_resume(self) -> None:
        if self.running():
            self.pause()
        elif self._paused:
            self.resume()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Dataset folder"), self.data_edit.text())
        if folder:
            self.set_data_folder(folder)

    def _pick_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Resume a run"), str(runs_dir()))
        if folder:
            self.resume_run(Path(folder))

"""The app's side of the history of runs: records what the panels run, restores what a file carries.

`HistoryRecorder` is made by the main window with the `Session`, the `History` and the panels
whose jobs it records. It only listens to their public signals — the batch and fine-tune panels'
`started(worker)` and that worker's `result`/`failed`/`cancelled`, the sketch panel's `saved` —
and reads the session (what the user chose) at the moment a job starts. It never runs the
engine's jobs itself: "run again" sets the session (and the panels' public settings) from an
entry and calls the panel's public `start()`, as a click would.

Each batch entry's settings are the `Provenance` its outputs carry, plus `recursive`. A model
whose hash is not known yet is hashed on a worker and filled in afterwards
(`History.set_model_sha256`), so recording never reads a large file on the UI thread.

`restore_from_image(path)`: an image that carries settings (`translator.provenance`) sets the
session's model — found in the model folders by sha256, else by file name — its direction,
inference options (not the device: that is this machine's) and strength; a model not found is
said in `message`, the rest is still restored.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from gui.i18n import fill
from gui.jobs import JobWorker
from gui.session import Session
from gui.widgets.batch_panel import BatchPanel
from gui.widgets.train_panel import TrainPanel
from translator.choices import FORMAT_SUFFIXES, OUTPUT_FORMATS
from translator.history import Entry, EntryKind, History, HistoryError, Status
from translator.jobs import JobSummary, Progress
from translator.provenance import Provenance, SettingsError, find_model, model_sha256, read_settings
from translator.errors import TranslatorError
from translator.training import TrainConfig, TrainResult

log = logging.getLogger(__name__)


@dataclass
class _Run:
    """A job being recorded: its entry and what its progress events said so far."""

    entry_id: int
    done: int = 0
    total: int = 0
    failed: int = 0


def canonical_format(fmt: str | None) -> str | None:
    """A recorded output format as the menus name it (`jpeg` → `jpg`); None for none or an unknown one."""
    if fmt is None or fmt not in FORMAT_SUFFIXES:
        return None
    suffix = FORMAT_SUFFIXES[fmt]
    return next((f for f in OUTPUT_FORMATS if FORMAT_SUFFIXES[f] == suffix), None)


def open_history() -> History:
    """The user's history; if its folder cannot be written, one kept in memory for this session,
    whose `notice` says why (the app shows it)."""
    try:
        return History()
    except HistoryError as exc:
        log.warning("%s", exc)
        history = History(Path(":memory:"))
        history.notice = f"{exc}. Runs are remembered until the app closes only."
        return history


class HistoryRecorder(QObject):
    """Records batch runs, fine-tuning runs and saved sketches; see the module docstring."""

    recorded = Signal()  # an entry was added or changed: views refresh
    message = Signal(str)  # something the user should read (history moved aside, a model not found, …)

    def __init__(self, session: Session, history: History, batch: BatchPanel | None = None,
                 train: TrainPanel | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.history = history
        self.batch = batch
        self.train = train
        self.restores = 0  # drops whose model search has finished (tests wait on it)
        self._hashers: list[JobWorker] = []
        if batch is not None:
            batch.started.connect(self._batch_started)
        if train is not None:
            train.started.connect(self._train_started)

    def say_notice(self) -> None:
        """Emit the history's notice (a damaged or newer file moved aside), if any, once."""
        if self.history.notice:
            self.message.emit(fill(self.tr("History: %1"), self.history.notice))
            self.history.notice = None

    # --- recording ---------------------------------------------------------------------------------

    def _start(self, kind: EntryKind, **fields: Any) -> int | None:
        try:
            entry_id = self.history.record_start(kind, **fields)
        except HistoryError as exc:
            log.warning("%s", exc)
            self.message.emit(str(exc))
            return None
        self.recorded.emit()
        return entry_id

    def _finish(self, entry_id: int, status: Status, **fields: Any) -> None:
        try:
            self.history.record_finish(entry_id, status, **fields)
        except HistoryError as exc:
            log.warning("%s", exc)
            self.message.emit(str(exc))
            return
        self.recorded.emit()

    def _hash_later(self, entry_id: int, model: Path, known: str | None) -> None:
        """Fill in the sha256 of `model` for `entry_id` once a worker has read the file."""
        if known is not None:
            return
        worker = JobWorker(lambda: model_sha256(model), name="history: hash the model")

        def store(sha: object) -> None:
            if isinstance(sha, str):
                try:
                    self.history.set_model_sha256(entry_id, sha)
                except HistoryError as exc:
                    log.warning("%s", exc)
                self.recorded.emit()

        worker.result.connect(store)
        worker.finished.connect(lambda: self._hashers.remove(worker))
        self._hashers.append(worker)
        worker.start()

    def current_settings(self) -> Provenance | None:
        """The session's choices as a `Provenance` (the model's hash only if already known), or None without a model."""
        s = self.session
        if s.model is None:
            return None
        return Provenance.from_options(s.options, model_path=s.model[0], direction=s.model[1], strength=s.strength,
                                       output_format=s.output_format, hash_model=False)

    def _batch_started(self, worker: JobWorker) -> None:
        s = self.session
        settings = self.current_settings()
        if settings is None or s.model is None or s.input_folder is None:
            return
        recorded = {**settings.to_dict(), "recursive": bool(self.batch is not None and self.batch.recursive.isChecked())}
        entry_id = self._start("batch", model=settings.model, model_sha256=settings.model_sha256, model_path=s.model[0],
                               inputs=[s.input_folder], output=s.output_folder, settings=recorded)
        if entry_id is None:
            return
        self._hash_later(entry_id, s.model[0], settings.model_sha256)
        run = _Run(entry_id)

        def progress(p: Progress) -> None:
            run.done, run.total = p.done, p.total
            run.failed += bool(p.failed)

        def done(summary: JobSummary) -> None:
            self._finish(entry_id, "done", written=len(summary.written), skipped=len(summary.skipped),
                         failed=len(summary.failed))

        def cancelled() -> None:
            self._finish(entry_id, "cancelled", written=max(0, run.done - run.failed), failed=run.failed,
                         message=fill(self.tr("cancelled after %1 of %2 images"), run.done, run.total))

        worker.on(progress=progress, result=done, cancelled=cancelled,
                  failed=lambda text: self._finish(entry_id, "failed", written=max(0, run.done - run.failed),
                                                   failed=run.failed, message=text))

    def _train_started(self, worker: JobWorker) -> None:
        train = self.train
        run_dir = train.run_dir() if train is not None else None
        if run_dir is None:
            return
        s = self.session
        start_model = s.model[0] if s.model is not None else None
        entry_id = self._start("finetune", model=run_dir.name, model_path=start_model, inputs=[],
                               output=run_dir, settings={})
        if entry_id is None:
            return

        def config() -> dict[str, Any]:
            """The run's own record of its settings (written when it started)."""
            try:
                return TrainConfig.from_file(run_dir / "config.json").to_dict()
            except (TranslatorError, ValueError, TypeError, OSError) as exc:
                log.warning("%s: cannot read the run's settings for the history (%s)", run_dir, exc)
                return {}

        def done(result: TrainResult) -> None:
            cfg = config()
            self._finish(entry_id, "done", written=1, settings=cfg, message=fill(self.tr("%1 steps"), result.steps_done))
            self._set_inputs(entry_id, cfg)

        def ended(status: Status, text: str | None = None) -> None:
            cfg = config()
            self._finish(entry_id, status, written=int((run_dir / "model.safetensors").is_file()), settings=cfg,
                         message=text)
            self._set_inputs(entry_id, cfg)

        worker.on(result=done, cancelled=lambda: ended("cancelled"), failed=lambda text: ended("failed", text))

    def _set_inputs(self, entry_id: int, config: dict[str, Any]) -> None:
        """A fine-tuning entry's input is its dataset folder, known once the run has written its config."""
        data = config.get("data")
        if isinstance(data, str):
            try:
                self.history.set_inputs(entry_id, [Path(data)])
            except HistoryError as exc:
                log.warning("%s", exc)
            self.recorded.emit()

    def record_saved(self, source: Path, result: Path) -> None:
        """A picture was saved from its source: a sketch and its result (the sketch panel's
        `saved`), or the preview's output (File ▸ Save output…)."""
        settings = self.current_settings()
        model_path = self.session.model[0] if self.session.model is not None else None
        entry_id = self._start("preview-save", model=settings.model if settings else "", model_path=model_path,
                               model_sha256=settings.model_sha256 if settings else None, inputs=[source],
                               output=result, settings=settings.to_dict() if settings else {})
        if entry_id is not None:
            self._finish(entry_id, "done", written=1)
            if model_path is not None and settings is not None:
                self._hash_later(entry_id, model_path, settings.model_sha256)

    # --- run again and restore ---------------------------------------------------------------------

    def apply_settings(self, settings: Provenance, model: Path | None) -> None:
        """Put `settings` into the session: the model (when given), direction, options (not the
        device nor the worker count: this machine's), strength and output format."""
        s = self.session
        if model is not None:
            s.set_model(model, settings.direction)
        s.options = settings.options_applied(s.options)
        s.strength = settings.strength
        if settings.output_format is not None:
            s.output_format = canonical_format(settings.output_format)

    def run_again(self, entry: Entry) -> str | None:
        """Set the session from `entry` and start the same kind of job; the reason it cannot, or None."""
        if entry.kind == "batch":
            return self._batch_again(entry)
        if entry.kind == "finetune":
            return self._train_again(entry)
        return self.tr("A saved picture is not a job to run again; drop it on the window to restore its settings.")

    def _batch_again(self, entry: Entry) -> str | None:
        if self.batch is None:
            return self.tr("There is no Batch tab to run it in.")
        try:
            settings = Provenance.from_dict(entry.settings)
        except SettingsError as exc:
            return fill(self.tr("This entry's settings cannot be used: %1"), exc)
        model = entry.model_path
        if model is None or not model.is_file() or (
                settings.model_sha256 is not None and model_sha256(model) != settings.model_sha256):
            found = find_model(settings)
            if found is None or not found[1]:
                return fill(self.tr("The model %1 (sha256 %2) is no longer in your model folders; import it again, "
                               "then run the entry again."), settings.model_file, (settings.model_sha256 or "?")[:12])
            model = found[0]
        if not entry.inputs or not entry.inputs[0].is_dir():
            return fill(self.tr("The input folder %1 no longer exists."), entry.inputs[0] if entry.inputs else "?")
        self.apply_settings(settings, model)
        self.session.set_input_folder(entry.inputs[0])
        self.session.set_output_folder(entry.output)
        self.session.output_format = canonical_format(settings.output_format)
        self.batch.recursive.setChecked(bool(entry.settings.get("recursive")))
        self.batch.start()
        return None

    def _train_again(self, entry: Entry) -> str | None:
        if self.train is None:
            return self.tr("There is no Fine-tune tab to run it in.")
        cfg = dict(entry.settings)
        data = cfg.pop("data", None)
        if not isinstance(data, str) or not Path(data).is_dir():
            return fill(self.tr("The dataset folder of this run (%1) no longer exists."), data)
        for key in ("out", "name"):  # a new run gets its own folder and name
            cfg.pop(key, None)
        try:
            self.train.set_data_folder(Path(data))
            self.train.config_overrides(**cfg)
        except (ValueError, TypeError) as exc:
            return fill(self.tr("This run's settings cannot be used: %1"), exc)
        self.train.start()
        return None

    def restore_from_image(self, path: Path) -> bool:
        """If `path` carries settings, restore them (the model is searched for on a worker) and
        return True; else False (the caller opens the image as usual)."""
        settings = read_settings(path)
        if settings is None:
            return False
        worker = JobWorker(lambda: find_model(settings), name="history: find the model")

        def found(result: object) -> None:
            model = result[0] if isinstance(result, tuple) else None
            self.apply_settings(settings, model)
            if model is None:
                self.message.emit(fill(self.tr(
                    "%1 was made with the model %2 (%3, sha256 %4), which is not in your model folders: its settings "
                    "were restored, the model was not. Import the model (File > Import model…) and drop the image again."
                ), path.name, settings.model, settings.model_file, (settings.model_sha256 or "?")[:12]))
            elif isinstance(result, tuple) and not result[1]:
                self.message.emit(fill(self.tr(
                    "%1: restored its settings and the model %2; that file has changed since the image was made, so "
                    "the result may differ."), path.name, model.name))
            else:
                self.message.emit(fill(self.tr("%1: restored the model %2 and its settings."), path.name, model.name))

        def counted() -> None:
            self.restores += 1
            self._hashers.remove(worker)

        worker.result.connect(found)
        worker.failed.connect(self.message.emit)
        worker.finished.connect(counted)
        self._hashers.append(worker)
        worker.start()
        return True

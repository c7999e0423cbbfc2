"""The main window: the side bar (model, images, settings) on the left, the work in tabs on the
right (Preview, Sketch, Batch, Fine-tune, Log), running jobs in the status bar.

State lives in the `Session`; panels are views of it. The window wires them together and runs
the preview: whenever the image, the model, the compared model, the targets or any inference
option changes (and only then), one preview is computed on a worker; a newer one cancels the
older, which stops within one tile. Loaded models come from one engine `ModelCache`, keyed by
model file and device, so changing a seed or the tiling never reloads weights, and a preview and
a batch may share a model without disturbing each other (the engine guarantees that).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QFrame, QMainWindow, QMenu, QMessageBox, QScrollArea, QSplitter, QTabWidget,
                               QWidget)

from gui import i18n
from gui.history import HistoryRecorder, open_history
from gui.jobs import LatestOnly, cancel_all_and_wait
from gui.plain import literal
from gui.session import ModelChoice, Session
from gui.widgets.batch_panel import BatchPanel
from gui.widgets.history_panel import HistoryPanel
from gui.widgets.job_status import JobStatus
from gui.widgets.library_panel import LibraryPanel
from gui.widgets.log_panel import LogPanel
from gui.widgets.preview_panel import PreviewPanel
from gui.widgets.sketch_panel import SketchPanel
from gui.widgets.train_panel import TrainPanel
from gui.widgets.zoo_dialog import ZooDialog
from translator import imaging
from translator._fs import write_bytes_atomic
from translator.blend import reblend
from translator.checkpoint import MODEL_SUFFIX, read_card
from translator.errors import TranslatorError
from translator.evaluation import Comparison, Judge, compare_image
from translator.jobs import CancelToken
from translator.inference import quick_look
from translator.model_cache import ModelCache
from translator.paths import user_models_dir

log = logging.getLogger(__name__)

SIDEBAR_WIDTH = 290
TAB_PREVIEW, TAB_SKETCH, TAB_BATCH, TAB_FINETUNE, TAB_HISTORY, TAB_LOG = range(6)


def _scrolling(panel: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


@dataclass(frozen=True)
class _RawPreview:
    """A preview at full strength: the model's comparison, the compared model's, and what scores a blend."""

    name: str
    second_name: str
    first: Comparison
    second: Comparison | None
    judge: Callable[[ModelChoice], Judge]  # the discriminator of a model, to score a new blend
    model: ModelChoice
    second_model: ModelChoice | None

    def at(self, strength: float) -> tuple[Comparison, Comparison | None]:
        """Both comparisons blended at `strength` (runs discriminators, not generators: a worker's job)."""
        first = reblend(self.first, strength, self.judge(self.model) if strength < 1 else None)
        second = None
        if self.second is not None and self.second_model is not None:
            second = reblend(self.second, strength, self.judge(self.second_model) if strength < 1 else None)
        return first, second


class _PreviewSignals(QObject):
    """Carries one preview's news from the worker thread to the UI thread (queued): tile passes
    done inside its image, and the quick look of a large image."""

    advanced = Signal(int, int)
    quick = Signal(object)  # (input, output) (H, W, 3) uint8, a quick look (translator.inference.quick_look)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle(self.tr("Image Translator"))
        self.setMinimumSize(900, 600)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.session = Session(self)
        self.models = ModelCache()
        self.preview_jobs = LatestOnly(self)
        self.reblend_jobs = LatestOnly(self, name="strength")
        self._raw_preview: _RawPreview | None = None  # the latest preview at full strength, to re-blend
        self._preview_news: _PreviewSignals | None = None
        self.previews_started = 0  # how many previews were computed (what "refreshes only when needed" counts)

        self.library = LibraryPanel(self.session)
        self.picker, self.strip, self.compare_with = self.library.picker, self.library.strip, self.library.compare_with
        self.preview = PreviewPanel()
        self.sketch = SketchPanel(self.session, self.models.get, self.settings)
        self.batch = BatchPanel(self.session, self.models.get)
        self.train_panel = TrainPanel()
        self.log_panel = LogPanel()
        self.history = open_history()  # what runs were made, and how (gui.history)
        self.recorder = HistoryRecorder(self.session, self.history, self.batch, self.train_panel, self)
        self.history_panel = HistoryPanel(self.recorder)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.preview, self.tr("Preview"))
        self.tabs.addTab(self.sketch, self.tr("Sketch"))
        self.tabs.addTab(_scrolling(self.batch), self.tr("Batch"))
        # The fine-tune form scrolls rather than squeeze its curves on small (or high-DPI) screens.
        self.tabs.addTab(_scrolling(self.train_panel), self.tr("Fine-tune"))
        self.tabs.addTab(self.history_panel, self.tr("History"))
        self.tabs.addTab(self.log_panel, self.tr("Log"))
        sidebar = _scrolling(self.library)
        sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # wrap, never scroll sideways
        # never narrower than its contents (a scroll bar's width to spare): nothing in it is clipped
        sidebar.setMinimumWidth(self.library.minimumSizeHint().width() + sidebar.verticalScrollBar().sizeHint().width() + 4)
        self.splitter = QSplitter()
        self.splitter.addWidget(sidebar)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([SIDEBAR_WIDTH, 1100])
        self.setCentralWidget(self.splitter)
        self.jobs = JobStatus(self.statusBar())
        self.statusBar().addPermanentWidget(self.jobs)

        self._preview_timer = QTimer(self, singleShot=True, interval=0)  # one refresh per burst of changes
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._preview_stale = False  # a change came while the Preview tab was hidden
        self.tabs.currentChanged.connect(self._tab_shown)
        s = self.session
        for signal in (s.modelChanged, s.directionChanged, s.compareChanged, s.currentImageChanged,
                       s.targetFolderChanged, s.optionsChanged):
            signal.connect(self._preview_timer.start)
        s.strengthChanged.connect(lambda _s: self._reblend_preview())
        s.strengthChanged.connect(lambda _s: self._show_model_names())
        s.modelChanged.connect(self._show_start_model)
        s.compareChanged.connect(lambda _c: self._show_model_names())
        s.modelChanged.connect(lambda _m: self._show_model_names())
        s.directionChanged.connect(lambda _d: self._show_model_names())
        self.library.errorRaised.connect(self.show_error)
        self.preview_jobs.failed.connect(self.preview.show_error)
        self.batch.started.connect(lambda w: self.jobs.track(w, self.tr("Batch"), self.tr("images")))
        self.train_panel.started.connect(lambda w: self.jobs.track(w, self.tr("Fine-tune"), self.tr("steps")))
        self.sketch.saved.connect(self.recorder.record_saved)
        self.recorder.message.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.history_panel.ranAgain.connect(lambda e: self.tabs.setCurrentIndex(TAB_BATCH if e.kind == "batch" else TAB_FINETUNE))
        QTimer.singleShot(0, self.recorder.say_notice)  # a history moved aside: said once the window shows
        self.train_panel.pairs.started.connect(lambda w: self.jobs.track(w, self.tr("Make pairs"), self.tr("photos")))
        self.train_panel.modelReady.connect(self.add_trained_model)
        self._make_actions()
        self._load_settings()
        self._show_start_model(s.model_path)
        self._show_model_names()

    # actions -----------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        menus: dict[str, QMenu] = {}

        def add(menu_name: str, text: str, keys: QKeySequence | QKeySequence.StandardKey | str, slot: object) -> QAction:
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            if menu_name not in menus:
                menus[menu_name] = self.menuBar().addMenu(menu_name)
            menus[menu_name].addAction(action)
            return action

        file, view = self.tr("&File"), self.tr("&View")
        add(file, self.tr("Open folder…"), QKeySequence.StandardKey.Open, self.library.ask_folder)
        add(file, self.tr("Import model…"), "Ctrl+I", self.picker.ask_import)
        add(file, self.tr("Get models…"), "", self.open_zoo)
        add(file, self.tr("Run batch"), "Ctrl+R", self.run_batch)
        add(file, self.tr("Save output…"), QKeySequence.StandardKey.Save, self.save_output)
        add(file, self.tr("Quit"), QKeySequence.StandardKey.Quit, self.close)
        add(view, self.tr("Next image"), "Ctrl+Right", lambda: self.strip.step(1))
        add(view, self.tr("Previous image"), "Ctrl+Left", lambda: self.strip.step(-1))
        add(view, self.tr("Fit"), "Ctrl+0", self.fit_all)
        add(view, self.tr("Actual size (100%)"), "Ctrl+1", self.actual_size_all)
        add(view, self.tr("Zoom in"), QKeySequence.StandardKey.ZoomIn, lambda: self._zoom(1.25))
        add(view, self.tr("Zoom out"), QKeySequence.StandardKey.ZoomOut, lambda: self._zoom(0.8))
        self.sidebar_action = add(view, self.tr("Side bar"), "Ctrl+B", self._toggle_sidebar)
        self.sidebar_action.setCheckable(True)
        self.sidebar_action.setChecked(True)
        self.language_menu = self._language_menu(menus[view])

    def _language_menu(self, view: QMenu) -> QMenu:
        """View ▸ Language: System, English, 한국어 (each language named in itself), stored in the
        settings and applied at the next start (`gui.i18n`)."""
        menu = view.addMenu(self.tr("Language"))
        group = QActionGroup(self)
        stored = i18n.stored_setting(self.settings)
        self.language_actions: dict[str, QAction] = {}
        for choice, text in ((i18n.SYSTEM, self.tr("System")), ("en", "English"), ("ko", "한국어")):
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(choice == stored)
            action.triggered.connect(lambda _checked=False, c=choice: self.set_language(c))
            group.addAction(action)
            self.language_actions[choice] = action
        return menu

    def set_language(self, choice: str) -> None:
        """Remember the language ("system", "en" or "ko"); it applies when the app next starts
        (the window's texts are made when it is built), which a message says when it changes what is shown."""
        if choice not in i18n.SETTINGS_CHOICES:
            raise ValueError(f"language must be one of {', '.join(i18n.SETTINGS_CHOICES)}, not {choice!r}")
        self.settings.setValue(i18n.KEY_LANGUAGE, choice)
        self.settings.sync()
        self.language_actions[choice].setChecked(True)
        if i18n.resolve(choice) != i18n.current():
            QMessageBox.information(self, self.tr("Language"), self.tr(
                "The new language applies the next time you start Image Translator."))

    def open_zoo(self) -> ZooDialog:
        """Open "Get models…"; each model it downloads is selected in the (refreshed) picker."""
        dialog = ZooDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.modelDownloaded.connect(self.picker.select)
        dialog.open()
        return dialog

    def fit_all(self) -> None:
        for view in self.preview.sync.views():
            view.fit()

    def actual_size_all(self) -> None:
        for view in self.preview.sync.views():
            view.actual_size()

    def _zoom(self, factor: float) -> None:
        view = self.preview.input_view
        view.set_zoom(view.zoom() * factor)
        if (state := view.normalized_state()) is not None:
            for other in self.preview.sync.views():
                if other is not view:
                    other.set_normalized_state(*state)

    def _toggle_sidebar(self, on: bool) -> None:
        sizes = self.splitter.sizes()
        self.splitter.setSizes([SIDEBAR_WIDTH if on else 0, sizes[0] + sizes[1] - (SIDEBAR_WIDTH if on else 0)])

    # the session's choices (kept as methods: the app's entry point and tests use them) -----------
    def open_folder(self, folder: Path, select: Path | None = None) -> None:
        """Open `folder` in the strip (and select `select` in it)."""
        self.session.set_input_folder(folder)
        if select is not None:
            self.session.set_current_image(select)

    def set_target_folder(self, folder: Path | None) -> None:
        """Use `folder` for targets (None: no targets); the preview recomputes."""
        self.session.set_target_folder(folder)

    def second_model(self) -> tuple[Path, str | None] | None:
        """The "compare with" model (path, direction), or None."""
        return self.session.compare

    def set_second_model(self, path: Path | None, direction: str | None = None) -> None:
        """Compare the main model's output with this model's (None: no comparison)."""
        self.session.set_compare(path, direction)

    def _show_start_model(self, path: Path | None) -> None:
        kind = None
        if path is not None:
            try:
                kind = read_card(path).kind
            except (TranslatorError, OSError) as exc:
                log.warning("%s", exc)
        self.train_panel.set_start_model(path, kind)

    def _show_model_names(self) -> None:
        model = self.session.model
        self.preview.set_model_names(self.library.compare_name(model), self.library.compare_name(self.session.compare),
                                     self.session.strength)

    def add_trained_model(self, model_file: Path) -> None:
        """A run's model (finished, paused or cancelled) goes into the user models folder, under
        the run's name, and is selected in the picker."""
        dst = user_models_dir() / f"{model_file.parent.name}{MODEL_SUFFIX}"
        try:
            write_bytes_atomic(dst, model_file.read_bytes())
        except OSError as exc:
            self.show_error(i18n.fill(self.tr("%1: cannot save the trained model (%2)"), dst, exc.strerror or exc))
            return
        log.info("trained model saved as %s", dst)
        self.picker.select(dst)

    # the preview ---------------------------------------------------------------------------------
    def _tab_shown(self, index: int) -> None:
        if index == TAB_PREVIEW and self._preview_stale:
            self._preview_timer.start()

    def refresh_preview(self) -> None:
        """Translate the current image with the model (and the compared model) off the UI thread;
        a newer request cancels an older one, whose result is dropped. While another tab is shown
        the preview waits (it would only compete for the cores with the Sketch tab or a batch)
        and runs when the Preview tab is shown again."""
        self._preview_timer.stop()
        if self.tabs.currentIndex() != TAB_PREVIEW:
            self._preview_stale = True
            self.preview_jobs.cancel()
            return
        self._preview_stale = False
        image, model = self.session.current_image, self.session.model
        if image is None or model is None:
            self.preview_jobs.cancel()
            return
        options, target, second = self.session.options, self.session.target_for(image), self.session.compare
        second_name = self.library.compare_name(second) or ""
        models = self.models
        news = self._preview_news = _PreviewSignals(self)  # parented: alive until its job has finished
        news.advanced.connect(lambda done, total: self._show_if_current(news, self.preview.show_progress, done, total))
        news.quick.connect(lambda pair: self._show_if_current(news, self.preview.show_quick, *pair, image.name))
        self.preview.show_busy(image)
        self.previews_started += 1
        self.reblend_jobs.cancel()
        self._raw_preview = None
        strength = self.session.strength

        def job(token: CancelToken) -> tuple[_RawPreview, tuple[Comparison, Comparison | None]]:
            tr = models.get(model[0], model[1], options)
            if (quick := quick_look(tr, image, token)) is not None:
                news.quick.emit(quick)
            first = compare_image(tr, image, target, token=token, progress=news.advanced.emit)
            other = None
            if second is not None:
                token.raise_if_cancelled()
                other = compare_image(models.get(second[0], second[1], options), image, target, token=token,
                                      progress=news.advanced.emit)
            raw = _RawPreview(image.name, second_name, first, other, lambda c: Judge(models.get(*c, options)), model, second)
            return raw, raw.at(strength)

        worker = self.preview_jobs.submit(job, self._show_preview)
        worker.finished.connect(news.deleteLater)

    def _show_preview(self, raw_and_shown: tuple[_RawPreview, tuple[Comparison, Comparison | None]]) -> None:
        raw, (first, second) = raw_and_shown
        self._raw_preview = raw
        self.preview.show_comparisons(first, second, raw.name, raw.second_name)

    def _reblend_preview(self) -> None:
        """A new strength: blend the latest preview again and measure what it now shows; the
        generator does not run (`translator.blend.reblend`)."""
        raw, strength = self._raw_preview, self.session.strength
        if raw is None:
            return
        self.reblend_jobs.submit(lambda _token: (raw, raw.at(strength)), self._show_preview)

    def _show_if_current(self, news: _PreviewSignals, show: Callable[..., None], *args: object) -> None:
        """Apply a preview's news only while it is the latest preview (a stale one's is dropped)."""
        if news is self._preview_news:
            show(*args)

    # batch -----------------------------------------------------------------------------------------
    def run_batch(self) -> None:
        self.tabs.setCurrentIndex(TAB_BATCH)
        self.batch.start()

    def save_output(self) -> Path | None:
        """File ▸ Save output…: the preview's output as shown (at the session's strength), with its
        model and settings inside the file; recorded in the History. Never over the input."""
        comparison, image = self.preview.comparison, self.session.current_image
        if comparison is None or image is None:
            self.statusBar().showMessage(self.tr("Nothing to save yet: open an image and wait for its full-size result."), 10_000)
            return None
        model = self.session.model_path.stem if self.session.model_path else "output"
        start = (self.session.output_folder or image.parent) / f"{image.stem}_{model}.png"
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Save output"), str(start),
                                              self.tr("Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)"))
        if not name:
            return None
        path = Path(name)
        if path.resolve() == image.resolve():
            self.show_error(i18n.fill(self.tr("%1 is the input image: choose another name (inputs are never overwritten)."), path))
            return None
        try:
            imaging.write_image(path, comparison.output, settings=self.recorder.current_settings())
        except (TranslatorError, OSError, ValueError) as exc:
            self.show_error(i18n.fill(self.tr("%1: cannot save the output (%2)"), path, exc))
            return None
        self.recorder.record_saved(image, path)
        self.statusBar().showMessage(i18n.fill(self.tr("Saved %1"), path), 10_000)
        return path

    def show_error(self, message: str) -> None:
        log.error("%s", message)
        QMessageBox.warning(self, self.tr("Image Translator"), literal(message))

    # drag and drop ---------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            first = paths[0]
            if first.is_file():
                self.recorder.restore_from_image(first)  # its model and settings, when it carries them
            self.open_folder(first if first.is_dir() else first.parent, None if first.is_dir() else first)

    # settings and shutdown -------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        self.restored_geometry = False
        if isinstance(geometry := s.value("window/geometry"), QByteArray):
            self.restored_geometry = self.restoreGeometry(geometry)
        if isinstance(state := s.value("window/splitter2"), QByteArray):
            self.splitter.restoreState(state)
        self.session.settings_load(s)  # model, folders, options (skips stale entries)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter2", self.splitter.saveState())
        self.session.settings_save(s)  # syncs

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every job (finished outputs stay complete), save settings, close."""
        self.save_settings()
        self._preview_timer.stop()
        cancel_all_and_wait(30_000)
        self.history.close()
        self.log_panel.detach()
        event.accept()

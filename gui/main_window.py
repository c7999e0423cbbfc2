"""The main window: model picker and input strip on the left, the preview in the middle, batch
and log tabs below. State lives in the `Session`; every engine call runs on a worker."""
from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.jobs import LatestOnly, cancel_all_and_wait
from gui.session import Session
from gui.widgets.batch_panel import BatchPanel
from gui.widgets.log_panel import LogPanel
from gui.widgets.model_picker import ModelPicker
from gui.widgets.preview_panel import PreviewPanel
from gui.widgets.thumbnails import ThumbnailStrip
from gui.widgets.train_panel import TrainPanel
from gui.widgets.zoo_dialog import ZooDialog
from translator._fs import write_bytes_atomic
from translator.checkpoint import MODEL_SUFFIX
from translator.paths import user_models_dir
from translator.evaluation import Comparison, compare_image
from translator.inference import InferenceOptions, Translator, load_translator
from translator.jobs import CancelToken

log = logging.getLogger(__name__)


class TranslatorCache:
    """Loaded models, reused across previews and batches (loading one can take seconds).
    Thread-safe: workers call `get`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[Path, str | None, InferenceOptions, int], Translator] = {}

    def get(self, path: Path, direction: str | None, options: InferenceOptions) -> Translator:
        key = (path, direction, options, path.stat().st_mtime_ns)
        with self._lock:
            if key not in self._cache:
                self._cache.clear()  # one model in memory at a time
                self._cache[key] = load_translator(path, options, direction)  # type: ignore[arg-type]
            return self._cache[key]


def _scrolling(panel: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Image Translator")
        self.setMinimumSize(960, 640)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.session = Session(self)
        self.models = TranslatorCache()
        self.second_models = TranslatorCache()  # the "compare with" model
        self.preview_jobs = LatestOnly(self)

        self.picker = ModelPicker()
        self.compare_with = QComboBox()
        self.compare_with.setToolTip("Translate each image with a second model too, to compare the two outputs")
        self.folder_label = QLabel("No folder open")
        self.folder_label.setWordWrap(True)
        open_button = QPushButton("Open folder…")
        open_button.clicked.connect(self.ask_folder)
        self.strip = ThumbnailStrip()
        self.target_label = QLabel("Targets: none found")
        self.target_label.setWordWrap(True)
        target_button = QPushButton("Targets…")
        target_button.setToolTip("Choose the folder of target images (same file names as the inputs)")
        target_button.clicked.connect(self.ask_target_folder)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Model</b>"))
        left.addWidget(self.picker)
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare with"))
        row.addWidget(self.compare_with, 1)
        left.addLayout(row)
        left.addWidget(QLabel("<b>Images</b>"))
        row = QHBoxLayout()
        row.addWidget(self.folder_label, 1)
        row.addWidget(open_button)
        left.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.target_label, 1)
        row.addWidget(target_button)
        left.addLayout(row)
        left.addWidget(self.strip, 1)
        left_widget = QWidget()
        left_widget.setLayout(left)

        self.preview = PreviewPanel()
        self.batch = BatchPanel()
        self.train_panel = TrainPanel()
        self.log_panel = LogPanel()
        self.bottom = QTabWidget()
        # Panels scroll rather than squeeze the preview on small (or high-DPI) screens.
        self.bottom.addTab(_scrolling(self.batch), "Batch")
        self.bottom.addTab(_scrolling(self.train_panel), "Fine-tune")
        self.bottom.addTab(self.log_panel, "Log")
        self.vsplit = centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.preview)
        centre.addWidget(self.bottom)
        centre.setStretchFactor(0, 3)
        centre.setStretchFactor(1, 1)
        centre.setSizes([640, 260])
        self.splitter = QSplitter()
        self.splitter.addWidget(left_widget)
        self.splitter.addWidget(centre)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

        self.picker.modelChosen.connect(self._model_chosen)
        self.picker.importFailed.connect(self.show_error)
        self.picker.refreshed.connect(self._fill_compare_with)
        self.compare_with.currentIndexChanged.connect(lambda _i: self.refresh_preview())
        self.strip.imageSelected.connect(self.session.set_current_image)
        self.session.currentImageChanged.connect(lambda _p: self.refresh_preview())
        self.session.targetFolderChanged.connect(self._target_folder_changed)
        self.batch.run_button.clicked.connect(self.run_batch)
        self.train_panel.modelReady.connect(self.add_trained_model)
        self.preview_jobs.failed.connect(self.preview.show_error)
        self._compare_entries: list[tuple[Path, str | None] | None] = [None]
        self._make_actions()
        self._fill_compare_with()
        self._load_settings()
        if (current := self.picker.current()) is not None:
            self._model_chosen(*current)

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

        add("&File", "Open folder…", QKeySequence.StandardKey.Open, self.ask_folder)
        add("&File", "Import model…", "Ctrl+I", self.picker.ask_import)
        add("&File", "Get models…", "", self.open_zoo)
        add("&File", "Run batch", "Ctrl+R", self.run_batch)
        add("&File", "Quit", QKeySequence.StandardKey.Quit, self.close)
        add("&View", "Next image", "Ctrl+Right", lambda: self.strip.step(1))
        add("&View", "Previous image", "Ctrl+Left", lambda: self.strip.step(-1))
        add("&View", "Fit", "Ctrl+0", self.fit_all)
        add("&View", "Actual size (100%)", "Ctrl+1", self.actual_size_all)
        add("&View", "Zoom in", QKeySequence.StandardKey.ZoomIn, lambda: self._zoom(1.25))
        add("&View", "Zoom out", QKeySequence.StandardKey.ZoomOut, lambda: self._zoom(0.8))

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

    # state changes -----------------------------------------------------------------------------
    def _model_chosen(self, path: Path, direction: str | None) -> None:
        self.session.set_model(path, direction)
        card = self.picker.current_card()
        self.train_panel.set_start_model(path, card.kind if card else None)
        self.refresh_preview()

    def _fill_compare_with(self) -> None:
        keep = self.second_model()
        self._compare_entries = [None, *self.picker.entries()]
        self.compare_with.blockSignals(True)
        self.compare_with.clear()
        self.compare_with.addItem("(none)")
        for i in range(len(self._compare_entries) - 1):
            self.compare_with.addItem(self.picker.combo.itemText(i))
        self.compare_with.setCurrentIndex(self._compare_entries.index(keep) if keep in self._compare_entries else 0)
        self.compare_with.blockSignals(False)

    def second_model(self) -> tuple[Path, str | None] | None:
        """The "compare with" model (path, direction), or None."""
        i = self.compare_with.currentIndex()
        return self._compare_entries[i] if 0 <= i < len(self._compare_entries) else None

    def set_second_model(self, path: Path | None, direction: str | None = None) -> None:
        """Compare the main model's output with this model's (None: no comparison)."""
        wanted = (path, direction) if path else None
        self.compare_with.setCurrentIndex(self._compare_entries.index(wanted) if wanted in self._compare_entries else 0)

    def add_trained_model(self, model_file: Path) -> None:
        """A run's model (finished, paused or cancelled) goes into the user models folder, under
        the run's name, and is selected in the picker."""
        dst = user_models_dir() / f"{model_file.parent.name}{MODEL_SUFFIX}"
        try:
            write_bytes_atomic(dst, model_file.read_bytes())
        except OSError as exc:
            self.show_error(f"{dst}: cannot save the trained model ({exc.strerror or exc})")
            return
        log.info("trained model saved as %s", dst)
        self.picker.select(dst)

    def open_folder(self, folder: Path, select: Path | None = None) -> None:
        self.session.set_input_folder(folder)
        self.folder_label.setText(str(folder))
        self.strip.set_folder(folder)
        if not self.batch.output.text():
            self.batch.output.setText(str(folder.parent / f"{folder.name}_translated"))
        if select is not None:
            self.strip.select(select)

    def set_target_folder(self, folder: Path | None) -> None:
        """Use `folder` for targets (None: no targets); the preview recomputes."""
        self.session.set_target_folder(folder)

    def ask_target_folder(self) -> None:
        start = str(self.session.target_folder or self.session.input_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder of target images", start)
        if folder:
            self.set_target_folder(Path(folder))

    def _target_folder_changed(self, folder: Path | None) -> None:
        how = "" if folder is None or not self.session.target_folder_is_automatic else " (found)"
        self.target_label.setText(f"Targets: {folder}{how}" if folder else "Targets: none")
        self.refresh_preview()

    def ask_folder(self) -> None:
        start = str(self.session.input_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(Path(folder))

    def options(self) -> InferenceOptions:
        return self.batch.options()

    def refresh_preview(self) -> None:
        """Translate the selected image with the selected model, off the UI thread; a newer
        request supersedes an older one (its result is dropped)."""
        image, model = self.session.current_image, self.session.model_path
        if image is None or model is None:
            return
        direction, options, target = self.session.direction, self.options(), self.session.target_for(image)
        second = self.second_model()
        second_name = self.compare_with.currentText()
        self.preview.show_busy(image)

        def job(_token: CancelToken) -> tuple[Comparison, Comparison | None]:
            first = compare_image(self.models.get(model, direction, options), image, target)
            other = None
            if second is not None:
                other = compare_image(self.second_models.get(second[0], second[1], options), image, target)
            return first, other

        self.preview_jobs.submit(job, lambda r: self.preview.show_comparisons(r[0], r[1], image.name, second_name))

    def run_batch(self) -> None:
        model, folder = self.session.model_path, self.session.input_folder
        if model is None or folder is None:
            self.show_error("Pick a model and open a folder first.")
            return
        direction, options = self.session.direction, self.options()
        self.bottom.setCurrentIndex(0)
        self.batch.start(lambda: self.models.get(model, direction, options), [folder])

    def show_error(self, message: str) -> None:
        log.error("%s", message)
        QMessageBox.warning(self, "Image Translator", message)

    # drag and drop -----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            first = paths[0]
            self.open_folder(first if first.is_dir() else first.parent, None if first.is_dir() else first)

    # settings and shutdown ---------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        self.restored_geometry = False
        if isinstance(geometry := s.value("window/geometry"), QByteArray):
            self.restored_geometry = self.restoreGeometry(geometry)
        if isinstance(state := s.value("window/splitter"), QByteArray):
            self.splitter.restoreState(state)
        self.session.settings_load(s)  # folders, model, device, precision (skips stale entries)
        options = self.session.options
        for value, combo in ((options.device, self.batch.device), (options.precision, self.batch.precision)):
            if combo.findText(value) >= 0:
                combo.setCurrentText(value)
        if self.session.model_path is not None:
            self.picker.select(self.session.model_path, self.session.direction)
        if self.session.input_folder is not None:
            target, chosen = self.session.target_folder, not self.session.target_folder_is_automatic
            self.open_folder(self.session.input_folder)
            if chosen:
                self.set_target_folder(target)
        out = s.value("folders/output")
        if isinstance(out, str) and out:
            self.batch.output.setText(out)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("folders/output", self.batch.output.text())
        options = self.batch.options()
        self.session.set_options(dataclasses.replace(self.session.options, device=options.device, precision=options.precision))
        self.session.settings_save(s)  # syncs

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every job (finished outputs stay complete), save settings, close."""
        self.save_settings()
        cancel_all_and_wait(30_000)
        self.log_panel.detach()
        event.accept()

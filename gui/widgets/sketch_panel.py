"""The Sketch tab: draw on the left, watch the model's picture on the right.

A view of the `Session`: the model, its direction, the compared model and the inference options
all come from it; the canvas takes the model card's `input_style` (ink, paper, line width) and
training size. The result is translated off the UI thread, for the latest drawing only:

- after each finished change (stroke, undo, redo, clear, open) and after a model, compare or
  option change, at once: a running translation is cancelled (a tiled one stops at its next
  tile) and its result dropped;
- during a stroke, at most every `THROTTLE_MS`, the first `THROTTLE_MS` after it began (a short
  stroke is translated once, when it ends); a translation already running then finishes and
  is shown (it is the stroke as it was a moment ago: better than nothing while drawing). On a
  canvas larger than the model's training size these are quick looks: the drawing translated at
  the training size and the result scaled up, so that the one running when the stroke ends
  finishes sooner.

Nothing is translated while the tab is hidden; what changed meanwhile is translated when it shows.
At most one translation runs at a time: a request made while one runs only marks the drawing as
wanted, and the one after starts when the running one stops, with the drawing as it is then
(older requests are dropped, never queued).

"Save…" writes the sketch and its result as `<name>.png` and `<name>_result.png`; "Add to
dataset" writes `A/sketch-NNNN.png` (the sketch) and `B/sketch-NNNN.png` (the traced photo when
there is one, else the result) into a dataset folder remembered in the settings (`sketch/dataset`),
both files or neither. Both only write a result made from the drawing as it is now.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShowEvent
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QMessageBox, QSizePolicy, QSlider,
                               QToolBar, QToolButton, QVBoxLayout, QWidget)

from gui.i18n import fill
from gui.jobs import JobWorker, LatestOnly
from gui.plain import PlainLabel, literal
from gui.session import Session
from gui.widgets.image_view import ImageView
from gui.widgets.sketch_canvas import SketchCanvas
from translator import imaging
from translator.blend import blend
from translator.checkpoint import Direction, InputStyle, ModelCard, find_models, read_card
from translator.choices import PEN_WIDTHS, SKETCH_SIZE_FACTORS
from translator.errors import TranslatorError
from translator.inference import InferenceOptions, Translator, translate_array
from translator.jobs import CancelToken
from translator.pairs import write_pair
from translator.provenance import Provenance

log = logging.getLogger(__name__)

THROTTLE_MS = 120  # during a stroke, a new translation starts at most this often
KEY_DATASET = "sketch/dataset"
DATASET_PREFIX = "sketch-"
GetModel = Callable[[Path, Direction | None, InferenceOptions], Translator]


@dataclass(frozen=True)
class Translation:
    """A drawing and what the model (and the compared model) made of it; `quick`: computed at the
    model's training size and scaled up, during a stroke on a larger canvas."""

    sketch: np.ndarray  # (H, W, 3) uint8, as drawn
    result: np.ndarray
    compared: np.ndarray | None
    quick: bool


def _image_filter() -> str:
    return fill(QCoreApplication.translate("SketchPanel", "Images (%1)"),
                " ".join(f"*{e}" for e in sorted(imaging.IMAGE_EXTENSIONS)))


def _resized(rgb: np.ndarray, side: int, how: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((side, side), how))


def next_dataset_name(folder: Path) -> str:
    """`sketch-NNNN`, numbered one past the highest such name in `folder/A` and `folder/B`."""
    pattern = re.compile(re.escape(DATASET_PREFIX) + r"(\d+)")
    used = [int(m.group(1)) for side in ("A", "B") if (folder / side).is_dir()
            for p in (folder / side).iterdir() if (m := pattern.fullmatch(p.stem))]
    return f"{DATASET_PREFIX}{max(used, default=0) + 1:04d}"


class SketchPanel(QWidget):
    """The tool bar over the canvas and the result(s); see the module docstring."""

    resultShown = Signal()  # a result (and the compared one) has been handed to the views
    saved = Signal(object, object)  # the sketch's and the result's paths, once both are written

    def __init__(self, session: Session, get_model: GetModel, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._get_model = get_model
        self._settings = settings
        self.canvas = SketchCanvas()
        self.result_view = ImageView(caption=self.tr("result"), placeholder=self.tr("Draw on the left"))
        self.compare_view = ImageView(caption=self.tr("compared model"))
        self.compare_view.hide()
        self.hint = PlainLabel()  # the model's input style, or which model was chosen for drawing
        self.hint.setWordWrap(True)
        self.message = PlainLabel()  # errors and what was saved
        self.message.setWordWrap(True)
        self.jobs = LatestOnly(self, name="sketch")
        self.translations_started = 0
        self._wanted = False  # the drawing has changed since the last translation started
        self._since_update = QElapsedTimer()  # since a translation started or, later, a stroke began
        self._throttle = QTimer(self, singleShot=True)  # the next start: after a burst of changes, or the throttle
        self._throttle.timeout.connect(self._start_if_due)
        self._shown: Translation | None = None
        self._card: ModelCard | None = None
        self._compare_name: str | None = None
        self._chosen_for_sketching: Path | None = None  # the model this tab picked, while it is the model
        self._shown_before = False
        self._reader: JobWorker | None = None
        self._build_tools()

        row = QHBoxLayout()
        row.setSpacing(4)
        for w in (self.canvas, self.result_view, self.compare_view):
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)  # equal room, whatever the images
            w.setMinimumWidth(60)
            row.addWidget(w, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tools)
        layout.addLayout(row, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.message)

        self.canvas.strokeStarted.connect(self._since_update.start)  # a dot alone is not worth a translation
        self.canvas.strokeMoved.connect(lambda: self.request(during_stroke=True))
        self.canvas.changed.connect(self.request)
        self.canvas.changed.connect(self._show_history)
        self.jobs.failed.connect(self._failed)
        session.modelChanged.connect(self._show_model)
        session.directionChanged.connect(self._show_model)
        session.compareChanged.connect(self._show_compare)
        session.optionsChanged.connect(lambda _o: self.request())
        session.strengthChanged.connect(self._show_strength)
        self._show_model()
        self._show_compare(session.compare)

    # ----- the tool bar ---------------------------------------------------------------------------
    def _build_tools(self) -> None:
        bar = self.tools = QToolBar()
        c = self.canvas

        def action(text: str, slot: Callable[[], object], keys: str | QKeySequence.StandardKey = "", tip: str = "") -> QAction:
            a = QAction(text, self)
            if keys:
                a.setShortcut(QKeySequence(keys))
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # this tab's, not the window's
                self.addAction(a)
            a.setToolTip(tip or text)
            a.triggered.connect(lambda _checked=False: slot())
            bar.addAction(a)
            return a

        self.pen_action = action(self.tr("Pen"), lambda: setattr(c, "eraser", False), "P")
        self.eraser_action = action(self.tr("Eraser"), lambda: setattr(c, "eraser", True), "E",
                                    self.tr("Eraser: paints the paper colour"))
        group = QActionGroup(self)
        for a in (self.pen_action, self.eraser_action):
            a.setCheckable(True)
            group.addAction(a)
        self.pen_action.setChecked(True)
        self.width_box = QComboBox()
        self.width_box.setToolTip(self.tr("Line width, in pixels at the model's training size (scaled with the canvas)"))
        self.width_box.currentIndexChanged.connect(lambda _i: setattr(c, "pen_width", float(self.width_box.currentData())))
        bar.addWidget(self.width_box)
        bar.addSeparator()
        self.undo_action = action(self.tr("Undo"), c.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = action(self.tr("Redo"), c.redo, "Ctrl+Shift+Z")
        self.clear_action = action(self.tr("Clear"), c.clear, "", self.tr("Start again on blank paper (undoable)"))
        self.size_box = QComboBox()
        self.size_box.setToolTip(self.tr("Canvas size in pixels: the model's training size, or larger"))
        self.size_box.activated.connect(lambda _i: c.set_side(int(self.size_box.currentData())))
        bar.addWidget(self.size_box)
        bar.addSeparator()
        action(self.tr("Open sketch…"), self.ask_open_sketch, "", self.tr("Start from a scanned or saved sketch"))
        action(self.tr("Trace over…"), self.ask_trace, "",
               self.tr("Show a photo under the drawing, to trace (the model does not see it)"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(c.trace_opacity * 100))
        self.opacity.setMaximumWidth(90)
        self.opacity.setToolTip(self.tr("How strongly the traced photo shows"))
        self.opacity.valueChanged.connect(lambda v: c.set_trace_opacity(v / 100))
        self.opacity_action = bar.addWidget(self.opacity)
        self.untrace_action = action(self.tr("No photo"), lambda: self.set_trace(None), "", self.tr("Remove the photo traced over"))
        bar.addSeparator()
        action(self.tr("Save…"), self.ask_save, QKeySequence.StandardKey.Save, self.tr("Save the sketch and its result as PNG"))
        self.dataset_action = action(self.tr("Add to dataset"), self.add_to_dataset, "",
                                     self.tr("Add the sketch (A/) and the traced photo or the result (B/) to a dataset folder"))
        change = QAction(self.tr("Choose dataset folder…"), self)
        change.triggered.connect(lambda _checked=False: self.ask_dataset_folder())
        button = bar.widgetForAction(self.dataset_action)
        if isinstance(button, QToolButton):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
            button.addAction(change)
        self._show_trace()
        self._show_history()

    def _show_history(self) -> None:
        self.undo_action.setEnabled(self.canvas.can_undo())
        self.redo_action.setEnabled(self.canvas.can_redo())

    def _show_trace(self) -> None:
        self.opacity_action.setVisible(self.canvas.has_trace())
        self.untrace_action.setVisible(self.canvas.has_trace())

    # ----- the session ----------------------------------------------------------------------------
    def _input_style(self) -> InputStyle | None:
        """The model's input style, when the session runs it the way its card describes."""
        card = self._card
        if card is None or self.session.direction not in (None, card.direction):
            return None
        return card.input_style

    def _show_model(self, *_args: object) -> None:
        path = self.session.model_path
        self._card = None
        if path is not None:
            try:
                self._card = read_card(path)
            except (TranslatorError, OSError, ValueError) as exc:
                self._say(str(exc))
        if path != self._chosen_for_sketching:
            self._chosen_for_sketching = None
        style, card = self._input_style(), self._card
        base = card.image_size if card is not None else self.canvas.base_size
        self.canvas.set_style(style.ink if style else "#000000", style.paper if style else "#ffffff")
        self.canvas.base_size = base
        self._fill_box(self.width_box, [*PEN_WIDTHS, style.line_width if style else 2.0],
                       style.line_width if style else 2.0, lambda w: f"{w:g} px")
        self._captions()
        note = fill(self.tr("Switched to %1, a model that takes sketches."), card.name) if card and self._chosen_for_sketching else ""
        inputs = fill(self.tr("Its inputs: %1"), style.description) if style else ""
        self.hint.setText(" ".join(t for t in (note, inputs) if t))
        self._show_sizes()
        if self.canvas.is_blank():
            self.canvas.reset(base)  # nothing drawn yet: the new model's size and paper (translated when it says so)
            self._show_sizes()
        else:
            self.request()

    def _show_sizes(self) -> None:
        base = self.canvas.base_size
        self._fill_box(self.size_box, [base * f for f in SKETCH_SIZE_FACTORS] + [self.canvas.side()], self.canvas.side(),
                       lambda s: f"{s} × {s}")

    @staticmethod
    def _fill_box(box: QComboBox, values: list[float] | list[int], current: float, label: Callable[[float], str]) -> None:
        box.blockSignals(True)
        box.clear()
        for v in sorted(set(values)):
            box.addItem(label(v), v)
        box.setCurrentIndex(box.findData(current))
        box.blockSignals(False)
        box.currentIndexChanged.emit(box.currentIndex())

    def _show_compare(self, choice: tuple[Path, Direction | None] | None) -> None:
        self.compare_view.setVisible(choice is not None)
        self._compare_name = None
        if choice is None:
            self.compare_view.set_image(None)
        else:
            try:
                self._compare_name = read_card(choice[0]).name
            except (TranslatorError, OSError, ValueError):
                self._compare_name = choice[0].stem
        self._captions()
        self.request()

    def _captions(self) -> None:
        """Name the models over their results, with the strength when it is not 100 %."""
        card, strength = self._card, self.session.strength
        at = fill(self.tr(" · %1 %"), round(strength * 100)) if strength < 1 else ""
        self.result_view.set_caption(fill(self.tr("result · %1"), card.name) + at if card else self.tr("result"))
        self.compare_view.set_caption(fill(self.tr("compared · %1"), self._compare_name) + at if self._compare_name
                                      else self.tr("compared model"))

    def showEvent(self, event: QShowEvent) -> None:
        """Translate what changed while hidden; the first time, prefer a model made for sketches."""
        super().showEvent(event)
        if not self._shown_before:
            self._shown_before = True
            self._prefer_sketch_model()
        self._start_if_due()

    def _prefer_sketch_model(self) -> None:
        """A model without an input style gives way to the first model that has one (if any)."""
        if self._card is not None and self._card.input_style is not None:
            return
        for path, card in find_models():
            if card.input_style is not None:
                log.info("Sketch tab: switching to %s, a model trained on sketches", path)
                self._chosen_for_sketching = path
                self.session.set_model(path, None)
                return

    # ----- translating ----------------------------------------------------------------------------
    def request(self, during_stroke: bool = False) -> None:
        """Translate the drawing as it is now (see the module docstring for when)."""
        self._wanted = True
        if during_stroke:
            self._start_if_due()
        else:
            self.jobs.cancel()  # what it computes is already stale
            self._throttle.start(0)  # once per burst of changes (a new model also resets a blank canvas)

    def _start_if_due(self) -> None:
        if not self._wanted or self.jobs.is_busy() or not self.isVisible():
            return  # a running job's `finished` calls back here, and so does showing the tab
        if self.canvas.stroking() and self._since_update.isValid():
            wait = THROTTLE_MS - self._since_update.elapsed()
            if wait > 0:
                if not self._throttle.isActive():
                    self._throttle.start(int(wait))
                return
        self._wanted = False
        model = self.session.model
        if model is None:
            self.result_view.set_image(None)
            self.result_view.set_placeholder(self.tr("Pick a model"))
            return
        sketch, options, compare, get = self.canvas.sketch(), self.session.options, self.session.compare, self._get_model

        # During a stroke on a canvas larger than the model's training size, a quick look: the
        # drawing at the training size, the result scaled back up (a 512² canvas: 4× less work).
        side, card = self.canvas.side(), self._card
        quick = card is not None and self.canvas.stroking() and side > card.image_size and not options.resize
        small = _resized(sketch, card.image_size, Image.Resampling.BOX) if quick and card is not None else sketch

        def run(choice: tuple[Path, Direction | None], token: CancelToken) -> np.ndarray:
            out = translate_array(get(choice[0], choice[1], options), small, token=token)
            return _resized(out, side, Image.Resampling.BILINEAR) if quick else out

        def job(token: CancelToken) -> Translation:
            first = run(model, token)
            second = None
            if compare is not None:
                token.raise_if_cancelled()
                second = run(compare, token)
            return Translation(sketch, first, second, quick)

        self._since_update.start()
        self.translations_started += 1
        worker = self.jobs.submit(job, self._show_result)
        worker.finished.connect(self._start_if_due)

    def _show_result(self, shown: Translation) -> None:
        """Show a translation at the session's strength (a new strength re-blends, no model runs)."""
        self._shown = shown
        self.message.clear()
        self.result_view.set_image(self._blended(shown.result))
        if self.session.compare is not None:
            self.compare_view.set_image(None if shown.compared is None else self._blended(shown.compared))
        self.resultShown.emit()

    def _show_strength(self, _strength: float) -> None:
        self._captions()
        if self._shown is not None:
            self._show_result(self._shown)

    def _blended(self, result: np.ndarray) -> np.ndarray:
        return blend(self._shown.sketch, result, self.session.strength) if self._shown is not None else result

    def _failed(self, message: str) -> None:
        self._shown = None
        self.result_view.set_image(None)
        self.result_view.set_placeholder(self.tr("No result"))
        self._say(message)

    def result(self) -> np.ndarray | None:
        """The result shown (at the session's strength), when it is the full translation of the
        drawing as it is now; else None."""
        shown = self._shown
        if shown is None or shown.quick or not np.array_equal(shown.sketch, self.canvas.sketch()):
            return None
        return self._blended(shown.result)

    def _say(self, message: str) -> None:
        log.info("Sketch: %s", message)
        self.message.setText(message)

    # ----- opening images -------------------------------------------------------------------------
    def ask_open_sketch(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open a sketch"), "", _image_filter())
        if path:
            self.open_sketch(Path(path))

    def ask_trace(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("A photo to trace over"), "", _image_filter())
        if path:
            self.trace_over(Path(path))

    def open_sketch(self, path: Path) -> JobWorker:
        """Read `path` off the UI thread; it becomes the drawing (undoable)."""
        return self._read(path, self.canvas.load_sketch)

    def trace_over(self, path: Path) -> JobWorker:
        """Read `path` off the UI thread and show it under the drawing."""
        return self._read(path, self.set_trace)

    def set_trace(self, rgb: np.ndarray | None) -> None:
        self.canvas.set_trace(rgb)
        self._show_trace()

    def _read(self, path: Path, use: Callable[[np.ndarray], None]) -> JobWorker:
        worker = JobWorker(lambda: imaging.read_image(path).rgb, name="sketch: read image")
        worker.result.connect(use)
        worker.failed.connect(self._say)
        self._reader = worker
        worker.start()
        return worker

    # ----- saving ---------------------------------------------------------------------------------
    def ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save the sketch and its result"), "sketch.png",
                                                  self.tr("PNG images (*.png)"))
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        """Write `<path>.png` (the sketch) and `<path>_result.png`, asking before replacing either."""
        result = self.result()
        if result is None:
            self._say(self.tr("The result is not ready yet; save again once it shows."))
            return False
        sketch_path = path.with_suffix(".png")
        result_path = sketch_path.with_name(f"{sketch_path.stem}_result.png")
        there = [p.name for p in (sketch_path, result_path) if p.exists()]
        if there and QMessageBox.question(
                self, self.tr("Replace files?"),
                literal(fill(self.tr("%1 already exists in %3.\n\nReplace?") if len(there) == 1 else
                             self.tr("%1 and %2 already exist in %3.\n\nReplace?"), *there, *[""] * (2 - len(there)),
                             sketch_path.parent)), QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
            return False
        try:
            model, s = self.session.model, self.session
            settings = None if model is None else Provenance.from_options(
                s.options, model_path=model[0], direction=model[1], strength=s.strength)  # carried by the result
            imaging.write_image(sketch_path, self.canvas.sketch())
            imaging.write_image(result_path, result, settings=settings)
        except (TranslatorError, ValueError) as exc:
            self._say(str(exc))
            return False
        self.saved.emit(sketch_path, result_path)
        self._say(fill(self.tr("Saved %1 and %2 in %3"), sketch_path.name, result_path.name, sketch_path.parent))
        return True

    def dataset_folder(self) -> Path | None:
        value = self._settings.value(KEY_DATASET) if self._settings is not None else None
        return Path(value) if isinstance(value, str) and value else None

    def set_dataset_folder(self, folder: Path) -> None:
        if self._settings is not None:
            self._settings.setValue(KEY_DATASET, str(folder))

    def ask_dataset_folder(self) -> Path | None:
        start = str(self.dataset_folder() or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, self.tr("Dataset folder (pairs go into its A/ and B/)"), start)
        if not chosen:
            return None
        self.set_dataset_folder(Path(chosen))
        return Path(chosen)

    def add_to_dataset(self) -> tuple[Path, Path] | None:
        """Write the sketch to `A/` and the traced photo (else the result) to `B/` under the next
        free `sketch-NNNN.png`: both files or neither. Asks for the folder the first time."""
        target = self.canvas.trace_image()
        if target is None and (target := self.result()) is None:
            self._say(self.tr("The result is not ready yet; add the pair once it shows."))
            return None
        folder = self.dataset_folder() or self.ask_dataset_folder()
        if folder is None:
            return None
        name = next_dataset_name(folder)
        a, b = folder / "A" / f"{name}.png", folder / "B" / f"{name}.png"
        try:
            write_pair((a, b), self.canvas.sketch(), target, make_parents=True)  # both or neither
        except (TranslatorError, ValueError, OSError) as exc:
            self._say(str(exc))
            return None
        self._say(fill(self.tr("Added %1.png to %2 (A: the sketch, B: the photo)") if self.canvas.has_trace() else
                       self.tr("Added %1.png to %2 (A: the sketch, B: the result)"), name, folder))
        return a, b

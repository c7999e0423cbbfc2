"""The model picker: every model in `weights/` and the user models folder, with its card.

A CycleGAN model offers each direction it has as its own entry. "Import…" brings in reference
checkpoints — generators and, optionally, discriminators — through the engine's safe importer
(`translator.reference.import_to_models`, on a worker) and selects the result; a model of the same
name is replaced only after the user says so.
"""
from __future__ import annotations

import logging
from pathlib import Path

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.i18n import fill
from gui.jobs import JobWorker
from gui.plain import escaped, literal, visible
from translator.checkpoint import ModelCard, describe_spec, find_models
from translator.choices import KINDS, Kind
from translator.jobs import CancelToken
from translator.reference import ModelExists, default_model_name, import_to_models, split_reference_files

log = logging.getLogger(__name__)


def card_heading(card: ModelCard) -> str:
    """The model's name (bold), kind and task, as rich text: every card value escaped (a card is
    untrusted text, from a file anyone can make)."""
    what = f"{card.kind}: {card.task}" if card.task else card.kind
    return f"<b>{escaped(card.name)}</b> — {escaped(what)}"


def card_summary(card: ModelCard) -> str:
    """A few lines describing a model, as rich text with every card value escaped: the heading,
    then the networks, training size, discriminator and steps (the picker's tooltip)."""
    translate = QCoreApplication.translate
    lines = [f"{role}: {describe_spec(spec)}" for role, spec in card.generators.items()]
    lines.append(fill(translate("ModelPicker", "trained at %1×%2"), card.image_size, card.image_size))
    lines.append(translate("ModelPicker", "discriminator: yes (adversarial verdict available)") if card.discriminators
                 else translate("ModelPicker", "discriminator: none (no adversarial verdict)"))
    if card.training.get("steps"):
        lines.append(fill(translate("ModelPicker", "trained %1 steps"), card.training["steps"]))
    return "<br>".join([card_heading(card), *map(escaped, lines)])


class ModelPicker(QWidget):
    """Emits `modelChosen(path, direction)`; `direction` is None for pix2pix models."""

    modelChosen = Signal(object, object)
    importFailed = Signal(str)
    refreshed = Signal()  # the list of models was re-read

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(18)
        self.import_button = QPushButton(self.tr("Import…"))
        self.import_button.setToolTip(self.tr("Import a reference checkpoint (*_net_G.pth) safely"))
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)  # the app's own markup; card values escaped
        self.details.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self._entries: list[tuple[Path, str | None, ModelCard]] = []
        self._worker: JobWorker | None = None
        self.combo.currentIndexChanged.connect(self._changed)
        self.import_button.clicked.connect(self.ask_import)
        self.refresh()

    def refresh(self, select: Path | None = None, direction: str | None = None) -> None:
        """Re-read the model folders (cards only: fast) and keep or set the selection."""
        keep = self.current()
        self._entries = []
        for path, card in find_models():
            if card.kind == "cyclegan":
                self._entries += [(path, d, card) for d in card.directions()]
            else:
                self._entries.append((path, None, card))
        self.combo.blockSignals(True)
        self.combo.clear()
        for path, d, card in self._entries:
            arrow = f" ({d[0]}→{d[-1]})" if d else ""
            self.combo.addItem(visible(f"{card.name}{arrow}"))
        self.combo.blockSignals(False)
        target = (select, direction) if select else keep
        index = 0
        if target:
            for i, (path, d, _card) in enumerate(self._entries):
                if path == target[0] and (target[1] is None or d == target[1]):
                    index = i
                    break
        if not self._entries:
            self.details.setText(self.tr("No models found. Use Import… to bring in a reference checkpoint."))
            self.details.setToolTip("")
        else:
            self.combo.setCurrentIndex(index)
            self._changed(index)
        self.refreshed.emit()

    def entries(self) -> list[tuple[Path, str | None]]:
        return [(p, d) for p, d, _ in self._entries]

    def current(self) -> tuple[Path, str | None] | None:
        i = self.combo.currentIndex()
        return (self._entries[i][0], self._entries[i][1]) if 0 <= i < len(self._entries) else None

    def current_card(self) -> ModelCard | None:
        i = self.combo.currentIndex()
        return self._entries[i][2] if 0 <= i < len(self._entries) else None

    def select(self, path: Path, direction: str | None = None) -> None:
        """Re-read the model folders (a new or rewritten file), then select `path`."""
        self.refresh(select=path, direction=direction)

    def show_entry(self, path: Path, direction: str | None) -> None:
        """Select an entry the picker already lists, without re-reading the folders (the choice
        was made elsewhere: a restored setting, the Sketch tab); unknown entries are ignored."""
        for i, (p, d, _card) in enumerate(self._entries):
            if p == path and d == direction:
                self.combo.setCurrentIndex(i)  # emits modelChosen through _changed when it moves
                return

    def _changed(self, index: int) -> None:
        if 0 <= index < len(self._entries):
            path, direction, card = self._entries[index]
            self.details.setText(card_heading(card))  # name and task: the picture keeps the room
            self.details.setToolTip(card_summary(card))  # networks, training size, discriminator, steps
            self.combo.setToolTip(literal(str(path)))
            self.modelChosen.emit(path, direction)

    # import --------------------------------------------------------------------------------
    def ask_import(self) -> None:
        """The Import… dialogs: generator file(s) (discriminators may be among them, told apart by
        name), the kind, optional discriminator(s) when none were chosen, and the name."""
        files, _ = QFileDialog.getOpenFileNames(self, self.tr("Import reference checkpoint(s): the generator(s)"), "",
                                                _pth_filter())
        if not files:
            return
        generators, discriminators = split_reference_files([Path(f) for f in files])
        if not generators:
            self.importFailed.emit(self.tr("Choose the generator file(s) (*_net_G*.pth); the discriminators are optional."))
            return
        pair = len(generators) == 2 or any(p.stem.endswith(("_A", "_B")) for p in generators)
        kind, ok = QInputDialog.getItem(self, self.tr("Model kind"), self.tr("What kind of model is it?"), list(KINDS),
                                        KINDS.index("cyclegan" if pair else "pix2pix"), False)
        if not ok:
            return
        if not discriminators:
            chosen, _ = QFileDialog.getOpenFileNames(
                self, self.tr("Discriminator(s) (optional, needed for the realness readout and fine-tuning)"),
                str(generators[0].parent), _pth_filter(),
            )
            named_g, named_d = split_reference_files([Path(f) for f in chosen])
            discriminators = named_d + named_g  # all chosen here, whatever their names; D_A before D_B
        name, ok = QInputDialog.getText(self, self.tr("Model name"), self.tr("Name:"), text=default_model_name(generators[0]))
        if ok and name.strip():
            self.import_files(generators, kind, name.strip(), discriminators)

    def import_files(self, files: Sequence[Path], kind: str, name: str, discriminators: Sequence[Path] = (),
                     *, overwrite: bool = False) -> None:
        """Import generator file(s) (a CycleGAN pair: G_A then G_B) and optional discriminator(s) on a
        worker, then select the model. A model of that name already there: ask before replacing it."""
        generators, ds = list(files), list(discriminators)

        def job(_token: CancelToken) -> Path | ModelExists:
            try:
                return import_to_models(generators, kind=_kind(kind), name=name, discriminators=ds, overwrite=overwrite)
            except ModelExists as exc:  # the user is asked on the UI thread, in `imported`
                return exc

        def imported(result: Path | ModelExists) -> None:
            if isinstance(result, Path):
                self.select(result)
            elif self._replace(name, result.path):
                self.import_files(generators, kind, name, ds, overwrite=True)

        worker = JobWorker(job, name="import")
        worker.result.connect(imported)
        worker.failed.connect(self.importFailed.emit)
        self._worker = worker
        worker.start()

    def _replace(self, name: str, path: Path) -> bool:
        """Ask whether the model already at `path` should be replaced."""
        answer = QMessageBox.question(
            self, self.tr("Replace model?"),
            literal(fill(self.tr("A model named “%1” already exists (%2).\n\nReplace it?"), name, path)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes


def _pth_filter() -> str:
    return QCoreApplication.translate("ModelPicker", "PyTorch checkpoints (*.pth *.pt)")


def _kind(text: str) -> Kind:
    """A model kind the picker offers (`KINDS`)."""
    for kind in KINDS:
        if kind == text:
            return kind
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {text!r}")

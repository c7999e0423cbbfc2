"""The model picker: every model in `weights/` and the user models folder, with its card.

A CycleGAN model offers each direction it has as its own entry. "Import…" brings in reference
checkpoints through the engine's safe importer (on a worker) and selects the result.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.jobs import JobWorker
from translator.checkpoint import MODEL_SUFFIX, ModelCard, describe_spec, find_models, save_model
from translator.jobs import CancelToken
from translator.paths import user_models_dir
from translator.reference import import_reference

log = logging.getLogger(__name__)


def card_summary(card: ModelCard) -> str:
    """A few lines describing a model, for the picker's details label and tooltips."""
    lines = [f"<b>{card.name}</b> — {card.kind}" + (f": {card.task}" if card.task else "")]
    for role, spec in card.generators.items():
        lines.append(f"{role}: {describe_spec(spec)}")
    lines.append(f"trained at {card.image_size}×{card.image_size}")
    lines.append("discriminator: yes (adversarial verdict available)" if card.discriminators else
                 "discriminator: none (no adversarial verdict)")
    if card.training.get("steps"):
        lines.append(f"trained {card.training['steps']} steps")
    return "<br>".join(lines)


class ModelPicker(QWidget):
    """Emits `modelChosen(path, direction)`; `direction` is None for pix2pix models."""

    modelChosen = Signal(object, object)
    importFailed = Signal(str)
    refreshed = Signal()  # the list of models was re-read

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(18)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import a reference checkpoint (*_net_G.pth) safely")
        self.details = QLabel()
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
            self.combo.addItem(f"{card.name}{arrow}")
        self.combo.blockSignals(False)
        target = (select, direction) if select else keep
        index = 0
        if target:
            for i, (path, d, _card) in enumerate(self._entries):
                if path == target[0] and (target[1] is None or d == target[1]):
                    index = i
                    break
        if not self._entries:
            self.details.setText("No models found. Use Import… to bring in a reference checkpoint.")
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
        self.refresh(select=path, direction=direction)

    def _changed(self, index: int) -> None:
        if 0 <= index < len(self._entries):
            path, direction, card = self._entries[index]
            self.details.setText(card_summary(card))
            self.combo.setToolTip(str(path))
            self.modelChosen.emit(path, direction)

    # import --------------------------------------------------------------------------------
    def ask_import(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import reference checkpoint(s)", "", "PyTorch checkpoints (*.pth *.pt)")
        if not files:
            return
        kinds = ["pix2pix", "cyclegan"]
        kind, ok = QInputDialog.getItem(self, "Model kind", "What kind of model is it?", kinds, 0, False)
        if not ok:
            return
        name, ok = QInputDialog.getText(self, "Model name", "Name:", text=Path(files[0]).stem.replace("_net_G", ""))
        if ok and name:
            self.import_files([Path(f) for f in files], kind, name)

    def import_files(self, files: list[Path], kind: str, name: str) -> None:
        """Import generator file(s) (a CycleGAN pair: G_A then G_B) on a worker, then select it."""
        out = user_models_dir() / f"{name}{MODEL_SUFFIX}"

        def job(_token: CancelToken) -> Path:
            model = import_reference(files[0], kind=kind, name=name,  # type: ignore[arg-type]
                                     generator_b=files[1] if len(files) > 1 else None)
            return save_model(model, out)

        worker = JobWorker(job, name="import")
        worker.result.connect(lambda path: self.select(path))
        worker.failed.connect(self.importFailed.emit)
        self._worker = worker
        worker.start()

"""The side bar: which model (and which to compare with), which images, and how to run them.

A view of the `Session`: every control asks the session to change, and every session change is
shown here, whoever made it (a restored setting, a drop on the window, a test). It owns the
model picker, the input strip and the inference options panel; it reads no other panel.
"""
from __future__ import annotations

from pathlib import Path
from typing import cast

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget)

from gui.i18n import QT_TRANSLATE_NOOP, fill
from gui.plain import PlainLabel
from gui.session import ModelChoice, Session
from gui.widgets.model_picker import ModelPicker
from gui.widgets.options_panel import OptionsPanel
from gui.widgets.thumbnails import ThumbnailStrip
from translator.choices import Direction

NO_COMPARISON = QT_TRANSLATE_NOOP("LibraryPanel", "(none)")


def _heading(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setContentsMargins(0, 6, 0, 0)
    return label


class LibraryPanel(QWidget):
    """Model, compare-with, folder, targets, the image strip and the options."""

    errorRaised = Signal(str)  # noqa: N815 (Qt naming) — a message for the user (e.g. a failed import)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.picker = ModelPicker()
        self.compare_with = QComboBox()
        self.compare_with.setToolTip(self.tr("Translate each image with a second model too, to compare the two outputs"))
        for combo in (self.picker.combo, self.compare_with):  # long model names elide, not widen the side bar
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.folder_label = PlainLabel(self.tr("No folder open"))  # folder names are untrusted text
        self.folder_label.setWordWrap(True)
        self.open_button = QPushButton(self.tr("Open folder…"))
        self.open_button.clicked.connect(self.ask_folder)
        self.strip = ThumbnailStrip()
        self.target_label = PlainLabel(self.tr("Targets: none found"))
        self.target_label.setWordWrap(True)
        self.target_label.setToolTip(self.tr("Target images (ground truth) with the same file names: the readouts compare "
                                             "against them"))
        target_button = QPushButton(self.tr("Targets…"))
        target_button.setToolTip(self.tr("Choose the folder of target images (same file names as the inputs)"))
        target_button.clicked.connect(self.ask_target_folder)
        self.options = OptionsPanel(session)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(_heading(self.tr("Model")))
        layout.addWidget(self.picker)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Compare with")))
        row.addWidget(self.compare_with, 1)
        layout.addLayout(row)
        layout.addWidget(_heading(self.tr("Images")))
        row = QHBoxLayout()
        row.addWidget(self.folder_label, 1)
        row.addWidget(self.open_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.target_label, 1)
        row.addWidget(target_button)
        layout.addLayout(row)
        layout.addWidget(self.strip, 1)
        layout.addWidget(_heading(self.tr("Settings")))
        layout.addWidget(self.options)

        self._compare_entries: list[ModelChoice | None] = [None]
        self.picker.modelChosen.connect(session.set_model)
        self.picker.importFailed.connect(self.errorRaised.emit)
        self.picker.refreshed.connect(self._fill_compare_with)
        self.compare_with.activated.connect(self._ask_compare)
        self.strip.imageSelected.connect(session.set_current_image)
        session.modelChanged.connect(self._show_model)
        session.directionChanged.connect(self._show_model)
        session.compareChanged.connect(self._show_compare)
        session.inputFolderChanged.connect(self._show_folder)
        session.currentImageChanged.connect(self._show_current)
        session.targetFolderChanged.connect(self._show_target)
        self._fill_compare_with()
        if session.model is None and (current := self.picker.current()) is not None:
            session.set_model(*current)  # the picker's first model, until the user picks one

    # asking the session --------------------------------------------------------------------------
    def ask_folder(self) -> None:
        start = str(self.session.input_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open a folder of images"), start)
        if folder:
            self.session.set_input_folder(Path(folder))

    def ask_target_folder(self) -> None:
        start = str(self.session.target_folder or self.session.input_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, self.tr("Folder of target images"), start)
        if folder:
            self.session.set_target_folder(Path(folder))

    def _ask_compare(self, index: int) -> None:
        choice = self._compare_entries[index] if 0 <= index < len(self._compare_entries) else None
        self.session.compare = choice

    # showing the session --------------------------------------------------------------------------
    def _show_model(self, *_args: object) -> None:
        model = self.session.model
        if model is not None and self.picker.current() != model:
            self.picker.show_entry(*model)

    def _fill_compare_with(self) -> None:
        self._compare_entries = [None, *((p, cast(Direction | None, d)) for p, d in self.picker.entries())]
        self.compare_with.blockSignals(True)
        self.compare_with.clear()
        self.compare_with.addItem(QCoreApplication.translate("LibraryPanel", NO_COMPARISON))
        for i in range(len(self._compare_entries) - 1):
            self.compare_with.addItem(self.picker.combo.itemText(i))
        self.compare_with.blockSignals(False)
        self._show_compare(self.session.compare)

    def _entry_index(self, choice: ModelChoice | None) -> int | None:
        """Where `choice` is in the compare menu; a direction of None matches the model's first."""
        if choice is None:
            return None
        for i, entry in enumerate(self._compare_entries):
            if entry is not None and entry[0] == choice[0] and (choice[1] is None or entry[1] == choice[1]):
                return i
        return None

    def _show_compare(self, choice: ModelChoice | None) -> None:
        index = self._entry_index(choice) or 0
        self.compare_with.blockSignals(True)
        self.compare_with.setCurrentIndex(index)
        self.compare_with.blockSignals(False)

    def compare_name(self, choice: ModelChoice | None) -> str | None:
        """The picker's name for a model choice (e.g. `horse2zebra (A→B)`), or None."""
        if choice is None:
            return None
        index = self._entry_index(choice)
        return self.compare_with.itemText(index) if index is not None else choice[0].stem

    def _show_folder(self, folder: Path | None) -> None:
        self.folder_label.setText(str(folder) if folder else self.tr("No folder open"))
        self.strip.set_folder(folder)
        if self.session.current_image is not None:
            self.strip.select(self.session.current_image)

    def _show_current(self, image: Path | None) -> None:
        if image is not None and self.strip.current_path() != image:
            self.strip.select(image)

    def _show_target(self, folder: Path | None) -> None:
        if folder is None:
            self.target_label.setText(self.tr("Targets: none"))
        elif self.session.target_folder_is_automatic:
            self.target_label.setText(fill(self.tr("Targets: %1 (found)"), folder))
        else:
            self.target_label.setText(fill(self.tr("Targets: %1"), folder))

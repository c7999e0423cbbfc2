"""The History tab: every recorded run (batch, fine-tuning, saved sketch), newest first.

A view of `translator.history.History` through the app's `HistoryRecorder`: it lists when, what
kind, which model, the folders, the counts, how long and how it ended; filters by a text found in
the model's name (or its sha256) or in a folder, and by kind; opens the selected run's output
folder; and runs it again (the recorder sets the session from it and starts the same kind of
job through its panel). It refreshes whenever the recorder records something.
"""
from __future__ import annotations

import json

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLineEdit, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gui.history import HistoryRecorder
from gui.i18n import fill
from gui.plain import PlainLabel, visible
from translator.history import ENTRY_KINDS, Entry, EntryKind
from translator.jobs import format_duration

LIMIT = 500  # rows listed; the filter reaches older runs


class HistoryPanel(QWidget):
    """The History tab; see the module docstring."""

    ranAgain = Signal(object)  # noqa: N815 (Qt naming) — the Entry started again (the window shows its tab)

    def __init__(self, recorder: HistoryRecorder, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recorder = recorder
        self._entries: list[Entry] = []
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(self.tr("filter by model or folder"))
        self.filter.setClearButtonEnabled(True)
        self.kind = QComboBox()
        self.kind.addItem(self.tr("all runs"), None)
        for kind in ENTRY_KINDS:
            self.kind.addItem(self.kind_name(kind), kind)
        self.table = QTableWidget(0, 9)
        self.table.setHorizontalHeaderLabels([self.tr("When"), self.tr("Kind"), self.tr("Model"), self.tr("Input"),
                                              self.tr("Output"), self.tr("Settings"), self.tr("Written / failed"),
                                              self.tr("Duration"), self.tr("Status")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (3, 4):  # the folders take what is left, elided
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.open_button = QPushButton(self.tr("Open output folder"))
        self.again_button = QPushButton(self.tr("Run again"))
        self.again_button.setToolTip(self.tr("Use this run's model, folders and settings and start it again; "
                                             "outputs already in the output folder are kept and skipped."))
        refresh = QPushButton(self.tr("Refresh"))
        self.message = PlainLabel()
        self.message.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.kind)
        buttons = QHBoxLayout()
        for b in (self.open_button, self.again_button, refresh):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

        self.filter.textChanged.connect(self.refresh)
        self.kind.currentIndexChanged.connect(self.refresh)
        refresh.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self.open_output)
        self.again_button.clicked.connect(self.run_again)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        recorder.recorded.connect(self.refresh)
        recorder.message.connect(self.message.setText)
        self.refresh()

    def kind_name(self, kind: EntryKind) -> str:
        return {"batch": self.tr("Batch"), "finetune": self.tr("Fine-tune"), "preview-save": self.tr("Saved picture")}[kind]

    def status_name(self, status: str) -> str:
        return {"running": self.tr("running"), "done": self.tr("done"), "cancelled": self.tr("cancelled"),
                "failed": self.tr("failed")}.get(status, status)

    def settings_summary(self, e: Entry) -> str:
        """The settings a user tells runs apart by: strength and precision of a translation, the
        steps and recipe of a fine-tuning run (all of them are in the cell's tooltip)."""
        s = e.settings
        parts: list[str] = []
        if e.kind == "finetune":
            if isinstance(s.get("steps"), int):
                parts.append(fill(self.tr("%1 steps"), s["steps"]))
            if isinstance(s.get("preset"), str):
                parts.append(s["preset"])
            return ", ".join(parts)
        strength = s.get("strength")
        if isinstance(strength, int | float):
            parts.append(fill(self.tr("strength %1 %"), round(100 * strength)))
        precision = s.get("precision_used") or (s.get("options") or {}).get("precision")
        if isinstance(precision, str):
            parts.append(precision)
        return ", ".join(parts)

    def entries(self) -> list[Entry]:
        """The entries listed, in the table's order."""
        return list(self._entries)

    def refresh(self, *_args: object) -> None:
        """List the runs the filter and kind select, keeping the selected one selected."""
        selected = self.selected()
        text = self.filter.text().strip()
        kind = self.kind.currentData()
        history = self.recorder.history
        if text:
            merged = {e.id: e for e in history.entries(model=text, kind=kind, limit=LIMIT)}
            merged.update({e.id: e for e in history.entries(folder=text, kind=kind, limit=LIMIT)})
            found = sorted(merged.values(), key=lambda e: (e.started, e.id), reverse=True)[:LIMIT]
        else:
            found = history.entries(kind=kind, limit=LIMIT)
        self._entries = found
        self.table.setRowCount(len(found))
        for row, e in enumerate(found):
            duration = format_duration(e.duration_s, "–") if e.duration_s is not None else "–"
            cells = [e.started.astimezone().strftime("%Y-%m-%d %H:%M"), self.kind_name(e.kind), e.model,
                     ", ".join(str(p) for p in e.inputs), str(e.output or ""), self.settings_summary(e),
                     f"{e.written} / {e.failed}", duration, self.status_name(e.status)]
            for column, value in enumerate(cells):
                item = QTableWidgetItem(visible(value))
                if column in (3, 4, 2):
                    item.setToolTip(visible(value))
                if column == 5 and e.settings:  # every setting, as recorded
                    item.setToolTip(visible(json.dumps(e.settings, indent=1, sort_keys=True), lines=True))
                if column == 8 and e.message:
                    item.setToolTip(visible(e.message))
                self.table.setItem(row, column, item)
        if selected is not None:
            for row, e in enumerate(found):
                if e.id == selected.id:
                    self.table.selectRow(row)
        self._update_buttons()

    def selected(self) -> Entry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._entries):
            return None
        return self._entries[rows[0].row()]

    def select(self, entry_id: int) -> None:
        """Select the run with this id, if it is listed."""
        for row, e in enumerate(self._entries):
            if e.id == entry_id:
                self.table.selectRow(row)

    def _update_buttons(self) -> None:
        e = self.selected()
        self.open_button.setEnabled(e is not None and e.output is not None)
        self.again_button.setEnabled(e is not None and e.kind != "preview-save" and e.status != "running")

    def output_folder(self, e: Entry) -> str | None:
        """The folder to open for `e`: its output folder, or the folder of its output file."""
        if e.output is None:
            return None
        return str(e.output.parent if e.output.suffix and not e.output.is_dir() else e.output)

    def open_output(self) -> None:
        e = self.selected()
        folder = self.output_folder(e) if e is not None else None
        if folder is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            self.message.setText(fill(self.tr("Cannot open %1: it may have been moved or deleted."), folder))

    def run_again(self) -> None:
        e = self.selected()
        if e is None:
            return
        problem = self.recorder.run_again(e)
        if problem is not None:
            self.message.setText(problem)
            return
        self.message.setText(fill(self.tr("Started again: %1 of %2."), self.kind_name(e.kind),
                                                                          e.started.astimezone().strftime("%Y-%m-%d %H:%M")))
        self.ranAgain.emit(e)


"""How images are translated: strength, device and precision up front, the rest behind "Advanced".

A view of `Session.options` and `Session.strength`: each widget change asks the session to change (`update_options`),
and every session change is shown here, so the preview, the sketch canvas and batches all run
with what this panel shows. The choices come from `translator.choices`, as the CLI's do.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout, QWidget

from gui.i18n import QT_TRANSLATE_NOOP, fill, words
from gui.session import Session
from gui.widgets.fold import Fold
from translator.choices import DEVICES, MODE_HELP, MODES, PRECISION_HELP, PRECISIONS, TILE_CHOICES, TILE_STATS, parse_tile
from translator.inference import InferenceOptions

_TILE_HELP = QT_TRANSLATE_NOOP("OptionsPanel", "auto: split an image into tiles only when it would not fit in memory; "
                                               "off: never; a size: tiles of that many pixels (seams are blended away)")
_STATS_HELP = QT_TRANSLATE_NOOP("OptionsPanel", "For tiled images on models that normalise by the image's own "
                                                "statistics: exact measures them over the whole image (slower); fast "
                                                "uses a downscaled copy (a slightly different look)")


def _add_values(combo: QComboBox, values: tuple[str, ...]) -> None:
    """One entry per engine value: its translated word shown, the value itself as the item's data."""
    for value in values:
        combo.addItem(words.label(value), value)


def _show_value(combo: QComboBox, value: str) -> None:
    """Select `value`, adding it first when it is a value the menu does not offer (e.g. `cuda:1`
    or a tile size given on the command line or in an older settings file)."""
    if combo.findData(value) < 0:
        combo.addItem(words.label(value), value)
    combo.setCurrentIndex(combo.findData(value))


class StrengthSlider(QWidget):
    """0–100 % of the translation, blended with the input; a view of `Session.strength`."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setPageStep(10)
        self.slider.setAccessibleName(self.tr("Strength"))
        self.percent = QLabel()
        self.percent.setMinimumWidth(self.percent.fontMetrics().horizontalAdvance("100 %"))
        self.setToolTip(self.tr("How much of the translation to keep: 100 % is the model's picture, 0 % your input; in "
                                "between they are mixed as light mixes. Moving it does not run the model again."))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.percent)
        self.show_strength(session.strength)
        session.strengthChanged.connect(self.show_strength)
        self.slider.valueChanged.connect(lambda v: session.set_strength(v / 100))

    def show_strength(self, strength: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(strength * 100))
        self.slider.blockSignals(False)
        self.percent.setText(fill(self.tr("%1 %"), round(strength * 100)))


class OptionsPanel(QWidget):
    """Strength, device, precision; Advanced: mode, seed, tiles, tile statistics."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.device = QComboBox()
        _add_values(self.device, DEVICES)
        self.device.setToolTip(self.tr("Where the model runs: auto picks a GPU (CUDA, then Apple MPS) when there is one, "
                                       "else the CPU"))
        self.precision = QComboBox()
        _add_values(self.precision, PRECISIONS)
        precision_help = {name: words.help_text("precision", name, PRECISION_HELP[name]) for name in PRECISIONS}
        for i, name in enumerate(PRECISIONS):
            self.precision.setItemData(i, precision_help[name], Qt.ItemDataRole.ToolTipRole)
        self.precision.setToolTip("\n".join(f"{words.label(k)}: {v}" for k, v in precision_help.items()))
        self.mode = QComboBox()
        _add_values(self.mode, MODES)
        mode_help = {mode: words.help_text("mode", mode, MODE_HELP[mode]) for mode in MODES}
        for i, mode in enumerate(MODES):
            self.mode.setItemData(i, mode_help[mode], Qt.ItemDataRole.ToolTipRole)
        self.mode.setToolTip("\n".join(f"{words.label(m)}: {h}" for m, h in mode_help.items()))
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip(self.tr("reference mode draws dropout at random: the same seed gives the same picture"))
        self.tile = QComboBox()
        _add_values(self.tile, TILE_CHOICES)
        self.tile.setToolTip(QCoreApplication.translate("OptionsPanel", _TILE_HELP))
        self.tile_stats = QComboBox()
        _add_values(self.tile_stats, TILE_STATS)
        self.tile_stats.setToolTip(QCoreApplication.translate("OptionsPanel", _STATS_HELP))

        self.strength = StrengthSlider(session)
        basic = QFormLayout()
        basic.addRow(self.tr("Strength"), self.strength)
        basic.addRow(self.tr("Device"), self.device)
        basic.addRow(self.tr("Precision"), self.precision)
        advanced_box = QWidget()
        advanced = QFormLayout(advanced_box)
        advanced.setContentsMargins(0, 0, 0, 0)
        advanced.addRow(self.tr("Mode"), self.mode)
        advanced.addRow(self.tr("Seed"), self.seed)
        advanced.addRow(self.tr("Tiles"), self.tile)
        advanced.addRow(self.tr("Tile statistics"), self.tile_stats)
        self.advanced = Fold(self.tr("Advanced"), advanced_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(basic)
        layout.addWidget(self.advanced)

        self.show_options(session.options)
        session.optionsChanged.connect(self.show_options)
        self.device.currentIndexChanged.connect(lambda _i: self._ask(device=self.device.currentData()))
        self.precision.currentIndexChanged.connect(lambda _i: self._ask(precision=self.precision.currentData()))
        self.mode.currentIndexChanged.connect(lambda _i: self._ask(mode=self.mode.currentData()))
        self.seed.valueChanged.connect(lambda v: self._ask(seed=v))
        self.tile.currentIndexChanged.connect(lambda _i: self._ask_tile())
        self.tile_stats.currentIndexChanged.connect(lambda _i: self._ask(tile_stats=self.tile_stats.currentData()))

    def show_options(self, options: InferenceOptions) -> None:
        """Show the session's options (never asks for a change itself)."""
        widgets = (self.device, self.precision, self.mode, self.seed, self.tile, self.tile_stats)
        for w in widgets:
            w.blockSignals(True)
        try:
            _show_value(self.device, options.device)
            self.precision.setCurrentIndex(max(0, self.precision.findData(options.precision)))
            self.mode.setCurrentIndex(max(0, self.mode.findData(options.mode)))
            self.seed.setValue(options.seed)
            _show_value(self.tile, str(options.tile))
            self.tile_stats.setCurrentIndex(max(0, self.tile_stats.findData(options.tile_stats)))
        finally:
            for w in widgets:
                w.blockSignals(False)

    def _ask(self, **change: object) -> None:
        try:
            self.session.update_options(**change)
        except ValueError:
            self.show_options(self.session.options)  # refused: show what still holds

    def _ask_tile(self) -> None:
        try:
            tile = parse_tile(str(self.tile.currentData()))
        except ValueError:
            self.show_options(self.session.options)
            return
        self._ask(tile=tile)

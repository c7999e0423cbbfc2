"""The app's UI state in one small object with signals; widgets observe it, none owns it (STYLE §9).

`Session` holds plain values (paths, a direction name, the frozen `InferenceOptions`): setting a
property (or calling its `set_…` slot) to a new value emits its `…Changed` signal once with the
new value; setting it to the value it already has emits nothing. It never touches the engine's heavy parts (no model loading):
the window reacts to the signals and runs the work through `gui.jobs`.

Target folder: unless the user picks one, it follows the input folder by the usual dataset
naming (`find_target_folder`): `X/A` ↔ `X/B`, `X/trainA` ↔ `X/trainB`, `X/input(s)` → `X/target(s)`.
A folder the user picks stays until they pick another input folder or call
`reset_target_folder()`.

Output folder: likewise, unless the user picks one it is `<input>_translated` beside the input
folder; a picked one stays until the user picks another (it is not tied to one input folder).

Settings (QSettings, keys in `SETTINGS_KEYS`; stored as strings):
    model/path            last model file
    model/direction       its direction (absent: the model's own)
    compare/path          the "compare with" model (absent: none)
    compare/direction     its direction
    folders/input         last input folder
    folders/target        last target folder the user picked (absent: found automatically)
    folders/output        last output folder the user picked (absent: next to the input)
    batch/format          output format (absent: same as each input)
    engine/device         auto | cpu | cuda | cuda:N | mps
    engine/precision      one of `translator.choices.PRECISIONS`
    engine/tile           one of `translator.choices.TILE_CHOICES` (or a size in pixels)
    engine/tile_stats     one of `translator.choices.TILE_STATS`
    look/strength         how much of the translation to keep, 0–1 (`translator.blend`)

Strength is not an inference option: changing it re-blends the outputs already computed, so it
has its own signal and the network does not run again.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal, SignalInstance

from translator.blend import check_strength
from translator.choices import DIRECTIONS, OUTPUT_FORMATS, PRECISIONS, TILE_STATS, Direction, check_choice, parse_tile
from translator.imaging import IMAGE_EXTENSIONS
from translator.inference import InferenceOptions

log = logging.getLogger(__name__)

ModelChoice = tuple[Path, Direction | None]
"""A model file and the direction to run it in (None: the model's own)."""

KEY_MODEL = "model/path"
KEY_DIRECTION = "model/direction"
KEY_COMPARE = "compare/path"
KEY_COMPARE_DIRECTION = "compare/direction"
KEY_INPUT_FOLDER = "folders/input"
KEY_TARGET_FOLDER = "folders/target"
KEY_OUTPUT_FOLDER = "folders/output"
KEY_FORMAT = "batch/format"
KEY_DEVICE = "engine/device"
KEY_PRECISION = "engine/precision"
KEY_TILE = "engine/tile"
KEY_TILE_STATS = "engine/tile_stats"
KEY_STRENGTH = "look/strength"
SETTINGS_KEYS: tuple[str, ...] = (KEY_MODEL, KEY_DIRECTION, KEY_COMPARE, KEY_COMPARE_DIRECTION, KEY_INPUT_FOLDER,
                                  KEY_TARGET_FOLDER, KEY_OUTPUT_FOLDER, KEY_FORMAT, KEY_DEVICE, KEY_PRECISION, KEY_TILE,
                                  KEY_TILE_STATS, KEY_STRENGTH)

# Input folder name -> target folder names to try, in order (case as written; see _candidates).
_NAME_PAIRS: dict[str, tuple[str, ...]] = {
    "input": ("target", "targets"),
    "inputs": ("targets", "target"),
}


def _candidates(name: str) -> list[str]:
    """Sibling names that would hold the targets of a folder called `name`."""
    out: list[str] = []
    lower = name.lower()
    if lower in _NAME_PAIRS:
        for t in _NAME_PAIRS[lower]:
            out += [t, t.capitalize(), t.upper()]
    # Domain folders: A <-> B as the whole name or its last letter (trainA, testB, photos_A).
    if name.endswith("A"):
        out.append(name[:-1] + "B")
    elif name.endswith("B"):
        out.append(name[:-1] + "A")
    elif name in ("a", "b"):
        out.append("b" if name == "a" else "a")
    return list(dict.fromkeys(out))


def find_target_folder(input_folder: Path) -> Path | None:
    """The existing sibling folder holding the targets (ground truth) of `input_folder`, or None.

    `X/A` → `X/B` (and `X/B` → `X/A`, for B→A models), `X/trainA` → `X/trainB` (any name ending
    in A/B), `X/input` → `X/target`, `X/inputs` → `X/targets`.
    """
    folder = Path(input_folder)
    for name in _candidates(folder.name):
        candidate = folder.with_name(name)
        if candidate.is_dir() and candidate != folder:
            return candidate
    return None


def find_target(image: Path, target_folder: Path, input_folder: Path | None = None) -> Path | None:
    """The file in `target_folder` with `image`'s stem and an image extension, or None.

    The same extension wins, then others in alphabetical order. When `image` lies inside
    `input_folder`, its sub-folder is mirrored (`in/x/cat.png` → `target/x/cat.*`).
    """
    image = Path(image)
    folder = Path(target_folder)
    if input_folder is not None:
        try:
            folder = folder / image.parent.relative_to(input_folder)
        except ValueError:
            pass
    suffixes = [image.suffix] + sorted(e for e in IMAGE_EXTENSIONS if e != image.suffix.lower())
    for suffix in suffixes:
        for s in dict.fromkeys((suffix, suffix.lower(), suffix.upper())):
            candidate = folder / (image.stem + s)
            if candidate.is_file():
                return candidate
    return None


def _as_path(value: Path | str | None) -> Path | None:
    return None if value is None or value == "" else Path(value)


def default_output_folder(input_folder: Path) -> Path:
    """Where a folder's translations go unless the user says otherwise: `<folder>_translated` beside it."""
    return input_folder.parent / f"{input_folder.name}_translated"


class Session(QObject):
    """What the user has chosen. Every signal carries the new value (possibly None)."""

    modelChanged = Signal(object)  # Path | None
    directionChanged = Signal(object)  # str | None
    compareChanged = Signal(object)  # ModelChoice | None
    inputFolderChanged = Signal(object)  # Path | None
    currentImageChanged = Signal(object)  # Path | None
    targetFolderChanged = Signal(object)  # Path | None
    outputFolderChanged = Signal(object)  # Path | None
    outputFormatChanged = Signal(object)  # str | None (None: same as each input)
    optionsChanged = Signal(object)  # InferenceOptions
    strengthChanged = Signal(float)  # 0–1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model_path: Path | None = None
        self._direction: Direction | None = None
        self._compare: ModelChoice | None = None
        self._input_folder: Path | None = None
        self._current_image: Path | None = None
        self._target_folder: Path | None = None
        self._target_chosen = False  # True: the user picked the target folder (or "none")
        self._output_folder: Path | None = None
        self._output_chosen = False  # True: the user picked the output folder
        self._output_format: str | None = None
        self._options = InferenceOptions(precision="auto")  # the fast, safe choice (`translator.precision`)
        self._strength = 1.0

    def _update(self, attribute: str, value: object, changed: SignalInstance) -> None:
        """Set `attribute` and emit `changed` with the new value, only when the value differs."""
        if value != getattr(self, attribute):
            setattr(self, attribute, value)
            changed.emit(value)

    # --- model -----------------------------------------------------------------------------

    @property
    def model_path(self) -> Path | None:
        return self._model_path

    @model_path.setter
    def model_path(self, value: Path | str | None) -> None:
        self._update("_model_path", _as_path(value), self.modelChanged)

    @property
    def direction(self) -> Direction | None:
        """`AtoB` or `BtoA` (in the model card's terms), or None for the model's own."""
        return self._direction

    @direction.setter
    def direction(self, value: str | None) -> None:
        self._update("_direction", _optional_choice("direction", value, DIRECTIONS), self.directionChanged)

    @property
    def model(self) -> ModelChoice | None:
        """The chosen model and direction together, or None."""
        return None if self._model_path is None else (self._model_path, self._direction)

    @property
    def compare(self) -> ModelChoice | None:
        """The "compare with" model: each image is translated by it too. None: no comparison."""
        return self._compare

    @compare.setter
    def compare(self, value: tuple[Path | str, str | None] | None) -> None:
        choice: ModelChoice | None = None
        if value is not None:
            path, direction = value
            choice = (Path(path), _optional_choice("direction", direction, DIRECTIONS))
        self._update("_compare", choice, self.compareChanged)

    # --- folders and the current image ----------------------------------------------------

    @property
    def input_folder(self) -> Path | None:
        return self._input_folder

    @input_folder.setter
    def input_folder(self, value: Path | str | None) -> None:
        """A new input folder also clears a current image outside it and makes the target
        folder automatic again (a picked target belongs to the input it was picked for)."""
        folder = _as_path(value)
        if folder == self._input_folder:
            return
        self._input_folder = folder
        self.inputFolderChanged.emit(folder)
        if self._current_image is not None and (folder is None or folder not in self._current_image.parents):
            self.current_image = None
        self._target_chosen = False
        self._set_target(find_target_folder(folder) if folder is not None else None)
        if not self._output_chosen:
            self._set_output(default_output_folder(folder) if folder is not None else None)

    @property
    def current_image(self) -> Path | None:
        return self._current_image

    @current_image.setter
    def current_image(self, value: Path | str | None) -> None:
        self._update("_current_image", _as_path(value), self.currentImageChanged)

    @property
    def target_folder(self) -> Path | None:
        """The folder of targets (ground truth): picked by the user, else found next to the input."""
        return self._target_folder

    @target_folder.setter
    def target_folder(self, value: Path | str | None) -> None:
        """The user's choice; None means "no target folder" (use `reset_target_folder` for automatic)."""
        self._target_chosen = True
        self._set_target(_as_path(value))

    @property
    def target_folder_is_automatic(self) -> bool:
        return not self._target_chosen

    def reset_target_folder(self) -> None:
        """Go back to the target folder found next to the input folder."""
        self._target_chosen = False
        self._set_target(find_target_folder(self._input_folder) if self._input_folder is not None else None)

    def _set_target(self, folder: Path | None) -> None:
        self._update("_target_folder", folder, self.targetFolderChanged)

    def target_for(self, image: Path | str) -> Path | None:
        """The target image for `image` (same stem, any image extension) in the target folder."""
        if self._target_folder is None:
            return None
        return find_target(Path(image), self._target_folder, self._input_folder)

    # --- batch output ------------------------------------------------------------------------

    @property
    def output_folder(self) -> Path | None:
        """Where a batch writes: picked by the user, else `<input>_translated` beside the input."""
        return self._output_folder

    @output_folder.setter
    def output_folder(self, value: Path | str | None) -> None:
        """The user's choice; None goes back to the folder beside the input."""
        folder = _as_path(value)
        self._output_chosen = folder is not None
        if folder is None and self._input_folder is not None:
            folder = default_output_folder(self._input_folder)
        self._set_output(folder)

    @property
    def output_folder_is_automatic(self) -> bool:
        return not self._output_chosen

    def _set_output(self, folder: Path | None) -> None:
        self._update("_output_folder", folder, self.outputFolderChanged)

    @property
    def output_format(self) -> str | None:
        """The batch's output format (one of `OUTPUT_FORMATS`), or None for each input's own."""
        return self._output_format

    @output_format.setter
    def output_format(self, value: str | None) -> None:
        self._update("_output_format", _optional_choice("output format", value, OUTPUT_FORMATS), self.outputFormatChanged)

    # --- inference options -----------------------------------------------------------------

    @property
    def options(self) -> InferenceOptions:
        return self._options

    @options.setter
    def options(self, value: InferenceOptions) -> None:
        if not isinstance(value, InferenceOptions):
            raise TypeError(f"options must be InferenceOptions, not {type(value).__name__}")
        self._update("_options", value, self.optionsChanged)

    def update_options(self, **changes: Any) -> None:
        """`dataclasses.replace` the options (validated by InferenceOptions); emits if they differ."""
        self.options = dataclasses.replace(self._options, **changes)

    # --- strength ---------------------------------------------------------------------------

    @property
    def strength(self) -> float:
        return self._strength

    @strength.setter
    def strength(self, value: float) -> None:
        self._update("_strength", check_strength(value), self.strengthChanged)

    # --- setters as slots (connect widget signals straight to these) -----------------------

    def set_model(self, path: Path | str | None, direction: str | None = None) -> None:
        """Choose a model and the direction to run it in (None: the model's own)."""
        self.model_path = path
        self.direction = direction

    def set_direction(self, direction: str | None) -> None:
        self.direction = direction

    def set_compare(self, path: Path | str | None, direction: str | None = None) -> None:
        """Compare with this model (None: no comparison)."""
        self.compare = None if path is None or path == "" else (path, direction)

    def set_input_folder(self, folder: Path | str | None) -> None:
        self.input_folder = folder

    def set_current_image(self, image: Path | str | None) -> None:
        self.current_image = image

    def set_target_folder(self, folder: Path | str | None) -> None:
        self.target_folder = folder

    def set_output_folder(self, folder: Path | str | None) -> None:
        self.output_folder = folder

    def set_output_format(self, fmt: str | None) -> None:
        self.output_format = fmt

    def set_options(self, options: InferenceOptions) -> None:
        self.options = options

    def set_strength(self, strength: float) -> None:
        self.strength = strength

    # --- persistence -----------------------------------------------------------------------

    def settings_save(self, settings: QSettings) -> None:
        """Write the keys in `SETTINGS_KEYS` (see the module docstring)."""
        compare_path, compare_direction = self._compare or (None, None)
        target = self._target_folder if self._target_chosen else None
        output = self._output_folder if self._output_chosen else None
        for key, value in ((KEY_MODEL, self._model_path), (KEY_DIRECTION, self._direction), (KEY_COMPARE, compare_path),
                           (KEY_COMPARE_DIRECTION, compare_direction), (KEY_INPUT_FOLDER, self._input_folder),
                           (KEY_TARGET_FOLDER, target), (KEY_OUTPUT_FOLDER, output), (KEY_FORMAT, self._output_format)):
            if value is None:
                settings.remove(key)
            else:
                settings.setValue(key, str(value))
        settings.setValue(KEY_DEVICE, self._options.device)
        settings.setValue(KEY_PRECISION, self._options.precision)
        settings.setValue(KEY_TILE, str(self._options.tile))
        settings.setValue(KEY_TILE_STATS, self._options.tile_stats)
        settings.setValue(KEY_STRENGTH, f"{self._strength:g}")
        settings.sync()

    def settings_load(self, settings: QSettings) -> None:
        """Restore what `settings_save` wrote. Paths that no longer exist and unknown values are
        skipped (logged), so a stale settings file never stops the app from starting."""
        model = _existing(settings.value(KEY_MODEL), KEY_MODEL, want_dir=False)
        if model is not None:
            self.set_model(model, _choice(settings, KEY_DIRECTION, DIRECTIONS))
        compare = _existing(settings.value(KEY_COMPARE), KEY_COMPARE, want_dir=False)
        if compare is not None:
            self.set_compare(compare, _choice(settings, KEY_COMPARE_DIRECTION, DIRECTIONS))
        folder = _existing(settings.value(KEY_INPUT_FOLDER), KEY_INPUT_FOLDER, want_dir=True)
        if folder is not None:
            self.input_folder = folder
        target = _existing(settings.value(KEY_TARGET_FOLDER), KEY_TARGET_FOLDER, want_dir=True)
        if target is not None:
            self.target_folder = target
        output = settings.value(KEY_OUTPUT_FOLDER)
        if isinstance(output, str) and output:
            self.output_folder = Path(output)  # need not exist yet: the batch makes it
        self.output_format = _choice(settings, KEY_FORMAT, OUTPUT_FORMATS)
        changes: dict[str, Any] = {}
        device = settings.value(KEY_DEVICE)
        if isinstance(device, str) and device.strip():
            changes["device"] = device.strip()
        if (precision := _choice(settings, KEY_PRECISION, PRECISIONS)) is not None:
            changes["precision"] = precision
        if (stats := _choice(settings, KEY_TILE_STATS, TILE_STATS)) is not None:
            changes["tile_stats"] = stats
        tile = settings.value(KEY_TILE)
        if isinstance(tile, str) and tile:
            try:
                changes["tile"] = parse_tile(tile)
            except ValueError as exc:
                log.warning("settings: ignoring %s=%r (%s)", KEY_TILE, tile, exc)
        if changes:
            self.update_options(**changes)
        strength = settings.value(KEY_STRENGTH)
        if strength is not None:
            try:
                self.strength = float(str(strength))
            except ValueError as exc:
                log.warning("settings: ignoring %s=%r (%s)", KEY_STRENGTH, strength, exc)


def _optional_choice(name: str, value: Any, choices: tuple[str, ...]) -> Any:
    """`value` if it is None or one of `choices`; else a ValueError naming the setting and its choices."""
    if value is not None:
        check_choice(name, value, choices)
    return value


def _choice(settings: QSettings, key: str, choices: tuple[str, ...]) -> Any:
    """The stored value of `key` if it is one of `choices`, else None (an unknown one is logged)."""
    value = settings.value(key)
    if value is None or value == "":
        return None
    if value in choices:
        return value
    log.warning("settings: ignoring %s=%r (choose one of %s)", key, value, ", ".join(choices))
    return None


def _existing(value: object, key: str, *, want_dir: bool) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    if (path.is_dir() if want_dir else path.is_file()):
        return path
    log.info("settings: %s=%s no longer exists; ignored", key, value)
    return None

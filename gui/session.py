"""The app's UI state in one small object with signals; widgets observe it, none owns it (STYLE §9).

`Session` holds plain values (paths, a direction name, the frozen `InferenceOptions`): setting a
property (or calling its `set_…` slot) to a new value emits its `…Changed` signal once with the
new value; setting it to the value it already has emits nothing. It never touches the engine's heavy parts (no model loading):
the window reacts to the signals and runs the work through `gui.jobs`.

Target folder: unless the user picks one, it follows the input folder by the usual dataset
naming (`find_target_folder`): `X/A` ↔ `X/B`, `X/trainA` ↔ `X/trainB`, `X/input(s)` → `X/target(s)`.
A folder the user picks stays until they pick another input folder or call
`reset_target_folder()`.

Settings (QSettings, keys in `SETTINGS_KEYS`; stored as strings):
    model/path            last model file
    folders/input         last input folder
    folders/target        last target folder the user picked (absent: found automatically)
    engine/device         auto | cpu | cuda | cuda:N | mps
    engine/precision      fp32 | bf16 | fp16
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, get_args

from PySide6.QtCore import QObject, QSettings, Signal

from translator.checkpoint import Direction
from translator.devices import PRECISIONS
from translator.imaging import IMAGE_EXTENSIONS
from translator.inference import InferenceOptions

log = logging.getLogger(__name__)

DIRECTIONS: tuple[str, ...] = get_args(Direction)  # ("AtoB", "BtoA")

KEY_MODEL = "model/path"
KEY_INPUT_FOLDER = "folders/input"
KEY_TARGET_FOLDER = "folders/target"
KEY_DEVICE = "engine/device"
KEY_PRECISION = "engine/precision"
SETTINGS_KEYS: tuple[str, ...] = (KEY_MODEL, KEY_INPUT_FOLDER, KEY_TARGET_FOLDER, KEY_DEVICE, KEY_PRECISION)

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


class Session(QObject):
    """What the user has chosen. Every signal carries the new value (possibly None)."""

    modelChanged = Signal(object)  # Path | None
    directionChanged = Signal(object)  # str | None
    inputFolderChanged = Signal(object)  # Path | None
    currentImageChanged = Signal(object)  # Path | None
    targetFolderChanged = Signal(object)  # Path | None
    optionsChanged = Signal(object)  # InferenceOptions

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model_path: Path | None = None
        self._direction: str | None = None
        self._input_folder: Path | None = None
        self._current_image: Path | None = None
        self._target_folder: Path | None = None
        self._target_chosen = False  # True: the user picked the target folder (or "none")
        self._options = InferenceOptions()

    # --- model -----------------------------------------------------------------------------

    @property
    def model_path(self) -> Path | None:
        return self._model_path

    @model_path.setter
    def model_path(self, value: Path | str | None) -> None:
        path = _as_path(value)
        if path != self._model_path:
            self._model_path = path
            self.modelChanged.emit(path)

    @property
    def direction(self) -> str | None:
        """`AtoB` or `BtoA` (in the model card's terms), or None for the model's own."""
        return self._direction

    @direction.setter
    def direction(self, value: str | None) -> None:
        if value is not None and value not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS} or None, not {value!r}")
        if value != self._direction:
            self._direction = value
            self.directionChanged.emit(value)

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

    @property
    def current_image(self) -> Path | None:
        return self._current_image

    @current_image.setter
    def current_image(self, value: Path | str | None) -> None:
        path = _as_path(value)
        if path != self._current_image:
            self._current_image = path
            self.currentImageChanged.emit(path)

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
        if folder != self._target_folder:
            self._target_folder = folder
            self.targetFolderChanged.emit(folder)

    def target_for(self, image: Path | str) -> Path | None:
        """The target image for `image` (same stem, any image extension) in the target folder."""
        if self._target_folder is None:
            return None
        return find_target(Path(image), self._target_folder, self._input_folder)

    # --- inference options -----------------------------------------------------------------

    @property
    def options(self) -> InferenceOptions:
        return self._options

    @options.setter
    def options(self, value: InferenceOptions) -> None:
        if not isinstance(value, InferenceOptions):
            raise TypeError(f"options must be InferenceOptions, not {type(value).__name__}")
        if value != self._options:
            self._options = value
            self.optionsChanged.emit(value)

    def update_options(self, **changes: Any) -> None:
        """`dataclasses.replace` the options (validated by InferenceOptions); emits if they differ."""
        self.options = dataclasses.replace(self._options, **changes)

    # --- setters as slots (connect widget signals straight to these) -----------------------

    def set_model(self, path: Path | str | None, direction: str | None = None) -> None:
        """Choose a model and the direction to run it in (None: the model's own)."""
        self.model_path = path
        self.direction = direction

    def set_direction(self, direction: str | None) -> None:
        self.direction = direction

    def set_input_folder(self, folder: Path | str | None) -> None:
        self.input_folder = folder

    def set_current_image(self, image: Path | str | None) -> None:
        self.current_image = image

    def set_target_folder(self, folder: Path | str | None) -> None:
        self.target_folder = folder

    def set_options(self, options: InferenceOptions) -> None:
        self.options = options

    # --- persistence -----------------------------------------------------------------------

    def settings_save(self, settings: QSettings) -> None:
        """Write the keys in `SETTINGS_KEYS` (see the module docstring)."""
        for key, path in ((KEY_MODEL, self._model_path), (KEY_INPUT_FOLDER, self._input_folder)):
            if path is None:
                settings.remove(key)
            else:
                settings.setValue(key, str(path))
        if self._target_chosen and self._target_folder is not None:
            settings.setValue(KEY_TARGET_FOLDER, str(self._target_folder))
        else:
            settings.remove(KEY_TARGET_FOLDER)
        settings.setValue(KEY_DEVICE, self._options.device)
        settings.setValue(KEY_PRECISION, self._options.precision)
        settings.sync()

    def settings_load(self, settings: QSettings) -> None:
        """Restore what `settings_save` wrote. Paths that no longer exist and unknown values are
        skipped (logged), so a stale settings file never stops the app from starting."""
        model = _existing(settings.value(KEY_MODEL), KEY_MODEL, want_dir=False)
        if model is not None:
            self.model_path = model
        folder = _existing(settings.value(KEY_INPUT_FOLDER), KEY_INPUT_FOLDER, want_dir=True)
        if folder is not None:
            self.input_folder = folder
        target = _existing(settings.value(KEY_TARGET_FOLDER), KEY_TARGET_FOLDER, want_dir=True)
        if target is not None:
            self.target_folder = target
        changes: dict[str, Any] = {}
        device = settings.value(KEY_DEVICE)
        if isinstance(device, str) and device.strip():
            changes["device"] = device.strip()
        precision = settings.value(KEY_PRECISION)
        if precision is not None:
            if precision in PRECISIONS:
                changes["precision"] = precision
            else:
                log.warning("settings: ignoring %s=%r (choose one of %s)", KEY_PRECISION, precision, ", ".join(PRECISIONS))
        if changes:
            self.update_options(**changes)


def _existing(value: object, key: str, *, want_dir: bool) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    if (path.is_dir() if want_dir else path.is_file()):
        return path
    log.info("settings: %s=%s no longer exists; ignored", key, value)
    return None

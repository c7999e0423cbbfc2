"""Loaded models shared by the app's jobs: weights read from disk once, networks prepared once.

The app translates with one model from several threads at once (the preview, a batch job, the
sketch canvas), each with its own options. Reading a model file is the slow part; preparing a
generator for a device and mode costs a copy of some layers (eval mode folds BatchNorm into the
convolutions); every other option (seed, tiling, overlap, precision, memory budget, batch size,
workers, resize) is read when an image is translated. So `ModelCache` keeps:

- models, per model file as it is on disk (resolved path and modification time): the
  `max_files` most recently used; a file changed on disk is read again;
- prepared translators, per (model file, generator, device, mode);
- and hands out the prepared translator with the caller's options (`dataclasses.replace`).

A translator handed out may be used by several threads at once: inference never changes its
network (`translator.inference`). No Qt here: the app wraps it.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

from translator.checkpoint import Direction, Model, load_model
from translator.choices import Mode
from translator.devices import resolve_device
from translator.errors import CheckpointError
from translator.inference import InferenceOptions, Translator, make_translator
from translator.precision import run_precision

log = logging.getLogger(__name__)

_File = tuple[Path, int]  # (resolved path, st_mtime_ns)


@dataclass
class _Loaded:
    """One model file's networks and the translators prepared from them."""

    model: Model
    prepared: dict[tuple[str, str, Mode], Translator] = field(default_factory=dict)  # (role, device, mode)


class ModelCache:
    """Thread-safe cache of models and prepared translators; see the module docstring.

    `loads` counts the model files read from disk, so a caller (or a test) can tell that a
    change of options did not read the weights again.
    """

    def __init__(self, max_files: int = 2) -> None:
        if max_files < 1:
            raise ValueError(f"max_files must be at least 1, not {max_files}")
        self.max_files = max_files
        self.loads = 0
        self._lock = threading.Lock()
        self._files: OrderedDict[_File, _Loaded] = OrderedDict()

    def get(self, path: Path, direction: Direction | None, options: InferenceOptions) -> Translator:
        """A translator for one direction (None: the model's first) of the model file at `path`,
        running with `options`. Reads the file only when this cache does not hold it as it is on
        disk now; prepares the network only for a new (file, direction, device, mode)."""
        file = _identify(Path(path))
        device = resolve_device(options.device)
        with self._lock:
            loaded = self._loaded(file)
            key = (loaded.model.generator_role(direction), str(device), options.mode)
            prepared = loaded.prepared.get(key)
            if prepared is None:
                prepared = make_translator(loaded.model, options, direction)
                loaded.prepared[key] = prepared
        tr = replace(prepared, options=options)
        return replace(tr, precision=run_precision(tr))

    def _loaded(self, file: _File) -> _Loaded:
        """The cached model of `file`, read from disk if needed (call with the lock held)."""
        loaded = self._files.get(file)
        if loaded is None:
            for stale in [f for f in self._files if f[0] == file[0]]:  # the same file, changed on disk since
                del self._files[stale]
            loaded = _Loaded(load_model(file[0]))
            self.loads += 1
            log.info("loaded %s", file[0])
            self._files[file] = loaded
            while len(self._files) > self.max_files:
                self._files.popitem(last=False)
        self._files.move_to_end(file)
        return loaded


def _identify(path: Path) -> _File:
    """`path` resolved (links followed) and its modification time: a model file as it is on disk now."""
    resolved = path.expanduser().resolve()
    try:
        return resolved, resolved.stat().st_mtime_ns
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read this model file ({exc.strerror or exc}); check that it exists and is readable") from exc

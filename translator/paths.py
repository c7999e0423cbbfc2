"""Where models live: the shipped `weights/` folder and the user's models folder."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "image-translator"


def user_models_dir() -> Path:
    """The platform's per-user data folder for models (created on demand by writers).

    `TRANSLATOR_MODELS_DIR` overrides it (tests, portable installs).
    """
    if env := os.environ.get("TRANSLATOR_MODELS_DIR"):
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME / "models"


def shipped_weights_dir() -> Path:
    """The repository's `weights/` folder (models that ship with the app).

    `TRANSLATOR_WEIGHTS_DIR` overrides it (tests, packagers who put the models elsewhere).
    """
    if env := os.environ.get("TRANSLATOR_WEIGHTS_DIR"):
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "weights"


def model_search_dirs() -> list[Path]:
    """Folders searched for models by name, shipped ones first."""
    return [shipped_weights_dir(), user_models_dir()]

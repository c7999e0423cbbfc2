"""Where models live (the shipped `weights/` folder, the user's models folder) and the other per-user folders."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "image-translator"


def _per_user(windows: tuple[str, str], mac: str, xdg: tuple[str, str]) -> Path:
    """This app's folder in one of the platform's per-user folders: on Windows the folder in env
    var windows[0] (default ~/AppData/windows[1]), on macOS ~/Library/`mac`, elsewhere the folder
    in env var xdg[0] (default ~/xdg[1])."""
    if sys.platform == "win32":
        base = Path(os.environ.get(windows[0]) or Path.home() / "AppData" / windows[1])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / mac
    else:
        base = Path(os.environ.get(xdg[0]) or Path.home() / xdg[1])
    return base / APP_NAME


def user_models_dir() -> Path:
    """The platform's per-user data folder for models (created on demand by writers).

    `TRANSLATOR_MODELS_DIR` overrides it (tests, portable installs).
    """
    if env := os.environ.get("TRANSLATOR_MODELS_DIR"):
        return Path(env).expanduser()
    return _per_user(("APPDATA", "Roaming"), "Application Support", ("XDG_DATA_HOME", ".local/share")) / "models"


def user_cache_dir() -> Path:
    """The per-user cache folder (`TRANSLATOR_CACHE_DIR` overrides it, for tests and portable installs)."""
    if env := os.environ.get("TRANSLATOR_CACHE_DIR"):
        return Path(env).expanduser()
    return _per_user(("LOCALAPPDATA", "Local"), "Caches", ("XDG_CACHE_HOME", ".cache"))


def user_data_dir() -> Path:
    """The per-user data folder for what the app keeps besides models (the history of runs).

    `TRANSLATOR_DATA_DIR` overrides it (tests, portable installs).
    """
    if env := os.environ.get("TRANSLATOR_DATA_DIR"):
        return Path(env).expanduser()
    return _per_user(("APPDATA", "Roaming"), "Application Support", ("XDG_DATA_HOME", ".local/share"))


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

"""Start-up: a window is painted before the engine is imported, then the main window takes its place."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from pytestqt.qtbot import QtBot

from gui.app import Startup, parse_args


def test_app_module_does_not_import_the_engine() -> None:
    # In a fresh interpreter: importing the app's entry point must not pull in torch (seconds).
    code = "import sys, gui.app; assert 'torch' not in sys.modules and 'translator.checkpoint' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_start_up_window_is_replaced_by_the_main_window(qtbot: QtBot, tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(photos["chelsea"]).save(folder / "chelsea.png")
    startup = Startup(parse_args([str(folder)]))
    qtbot.addWidget(startup.splash)
    startup.start()
    assert startup.splash.isVisible()
    qtbot.waitUntil(lambda: startup.window is not None, timeout=60000)
    window = startup.window
    qtbot.addWidget(window)
    assert window.isVisible() and not startup.splash.isVisible()
    assert window.geometry().topLeft() == startup.splash.geometry().topLeft()  # where the start-up window was
    assert [p.name for p in window.strip.paths()] == ["chelsea.png"]
    window.close()

"""The engine never imports Qt (or the GUI): it must run on a headless server."""
from __future__ import annotations

import subprocess
import sys


def test_engine_is_qt_free() -> None:
    code = (
        "import sys, translator.cli, translator.inference, translator.evaluation, translator.reference; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'gui'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

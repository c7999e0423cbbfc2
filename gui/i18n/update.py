"""Refresh the translations: `python -m gui.i18n.update` (from the repository root, in `.venv`).

Runs `pyside6-lupdate` over every Python file under `gui/`, which adds new source strings to
`translator_ko.ts` (keeping the translations already there and marking vanished strings
obsolete), then `pyside6-lrelease`, which builds `translator_ko.qm` from it. Translate the new
entries (Qt Linguist: `pyside6-linguist gui/i18n/translator_ko.ts`, or by hand in the XML), then
run this again; commit both the `.ts` and the `.qm` (the app loads the `.qm`; nothing builds it
at install time).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from gui.i18n import FOLDER, LANGUAGES

GUI = FOLDER.parent


def _tool(name: str) -> str:
    """The PySide6 tool `name`, next to this Python first (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found next to {sys.executable} or on PATH: install PySide6 (pip install PySide6-Essentials)")
    return found


def main() -> int:
    sources = sorted(str(p.relative_to(GUI.parent)) for p in GUI.rglob("*.py"))
    for language in LANGUAGES[1:]:  # English is the source language
        ts = FOLDER / f"translator_{language}.ts"
        subprocess.run([_tool("pyside6-lupdate"), "-no-obsolete", "-locations", "none", *sources, "-ts", str(ts)],
                       check=True, cwd=GUI.parent)
        subprocess.run([_tool("pyside6-lrelease"), str(ts), "-qm", str(ts.with_suffix(".qm"))], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

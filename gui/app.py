"""`translator-gui [FOLDER] [--model NAME]`: the desktop app."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from translator.checkpoint import resolve_model_path
from translator.errors import TranslatorError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="translator-gui", description="Image-to-image translation, in a window.")
    parser.add_argument("folder", nargs="?", type=Path, help="a folder of images to open")
    parser.add_argument("--model", "-m", help="model to select (file or name)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("image-translator")
    app.setApplicationName("Image Translator")
    window = MainWindow()
    if args.model:
        try:
            window.picker.select(resolve_model_path(args.model))
        except TranslatorError as exc:
            window.show_error(str(exc))
    if args.folder:
        window.open_folder(args.folder.resolve())
    if not window.restored_geometry:
        # 1400×900 where it fits, else 90 % of the screen (high-DPI scaling shrinks logical room)
        room = window.screen().availableGeometry()
        window.resize(min(1400, int(room.width() * 0.9)), min(900, int(room.height() * 0.9)))
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())

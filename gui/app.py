"""`translator-gui [FOLDER] [--model NAME]`: the desktop app.

Importing the engine (PyTorch) takes seconds on a small machine, so the app paints a light
start-up window first and imports the engine on a background thread; the main window replaces
it as soon as the import is done. Nothing in this module imports torch.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
except ModuleNotFoundError:  # installed without the app's extra: say how to get it, no traceback
    raise SystemExit("translator-gui needs the app's extra: pip install 'image-translator[gui]' "
                     "(PySide6 is not installed)") from None

from gui import i18n
from translator.heap import keep_heap_compact

TITLE = "Image Translator"  # the application's name (settings folder); the window shows its translation


class Startup:
    """Shows the start-up window, imports the main window's module in the background, then opens
    the main window where the start-up window was and closes it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.window: Any = None  # the MainWindow once built
        self.error: BaseException | None = None
        self._module: ModuleType | None = None
        self.splash = QMainWindow()
        self.splash.setWindowTitle(QCoreApplication.translate("Startup", "Image Translator"))
        label = QLabel(QCoreApplication.translate("Startup", "Starting the engine…"))
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.splash.setCentralWidget(label)
        geometry = QSettings().value("window/geometry")
        if not (geometry is not None and self.splash.restoreGeometry(geometry)):
            self.splash.resize(*_default_size(self.splash))
        self._thread = threading.Thread(target=self._import, name="import-engine", daemon=True)
        self._poll = QTimer(interval=20)
        self._poll.timeout.connect(self._check)
        self._painted = _AfterPaint(self._begin_import)

    def start(self) -> None:
        """Show the start-up window; the import starts once it has painted (an import holds
        Python's lock for long stretches, which would delay the paint)."""
        self.splash.installEventFilter(self._painted)
        self.splash.show()

    def _begin_import(self) -> None:
        self.splash.removeEventFilter(self._painted)
        self._thread.start()
        self._poll.start()

    def _import(self) -> None:
        try:
            self._module = importlib.import_module("gui.main_window")
        except BaseException as exc:  # shown in the window: the app must not vanish silently
            self.error = exc

    def _check(self) -> None:
        if self._thread.is_alive():
            return
        self._poll.stop()
        if self._module is None:
            logging.getLogger(__name__).error("the engine could not be loaded", exc_info=self.error)
            label = self.splash.centralWidget()
            assert isinstance(label, QLabel)
            label.setTextFormat(Qt.TextFormat.PlainText)  # an exception's text may quote anything
            label.setText(i18n.fill(QCoreApplication.translate(
                "Startup", "The engine could not be loaded:\n%1\n\nSee the terminal for details."), self.error))
            return
        self.window = _open_main_window(self._module, self.args, self.splash)
        self.splash.close()


class _AfterPaint(QObject):
    """Calls `then` from the event loop once the watched widget has handled its first paint."""

    def __init__(self, then: Callable[[], None]) -> None:
        super().__init__()
        self.then, self.done = then, False

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if ev.type() == QEvent.Type.Paint and not self.done:
            self.done = True
            QTimer.singleShot(0, self.then)
        return False


def _default_size(window: QMainWindow) -> tuple[int, int]:
    """1400×900 where it fits, else 90 % of the screen (high-DPI scaling shrinks logical room)."""
    room = window.screen().availableGeometry()
    return min(1400, int(room.width() * 0.9)), min(900, int(room.height() * 0.9))


def _open_main_window(module: ModuleType, args: argparse.Namespace, splash: QMainWindow) -> Any:
    from translator.checkpoint import resolve_model_path
    from translator.errors import TranslatorError

    window = module.MainWindow()
    if args.model:
        try:
            window.picker.select(resolve_model_path(args.model))
        except TranslatorError as exc:
            window.show_error(str(exc))
    if args.folder:
        window.open_folder(args.folder.resolve())
    if not window.restored_geometry:
        window.setGeometry(splash.geometry())
    window.show()
    return window


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="translator-gui", description="Image-to-image translation, in a window.")
    parser.add_argument("folder", nargs="?", type=Path, help="a folder of images to open")
    parser.add_argument("--model", "-m", help="model to select (file or name)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    keep_heap_compact()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("image-translator")
    app.setApplicationName(TITLE)
    i18n.install(app, i18n.resolve(QSettings().value(i18n.KEY_LANGUAGE)))  # before any widget is built
    startup = Startup(args)
    startup.start()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())

"""Recent log messages, shown in the window (the engine and the app log; this panel listens)."""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from gui.plain import visible


class _Emitter(QObject):
    message = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler safe to call from any thread: it emits a queued Qt signal."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.emitter = _Emitter()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        # Tracebacks stay in the log file / console; the panel shows the message line.
        record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        self.emitter.message.emit(self.format(record))


class LogPanel(QPlainTextEdit):
    """Keeps the last `max_lines` messages."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 500) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.handler = QtLogHandler()
        self.handler.emitter.message.connect(lambda line: self.appendPlainText(visible(line, lines=True)))
        logging.getLogger().addHandler(self.handler)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self.handler)

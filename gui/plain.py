"""Untrusted text shown as text: model cards, file and folder names, messages that quote them.

Qt guesses whether a string is HTML (`Qt.AutoText`) in labels, tooltips and message boxes: a
model card whose task reads `<img src="file:///…">` would make a label load and draw a local
file, and `<b>Verified by the tool authors</b>` would pass for the app's own formatting. A name
with a right-to-left override (U+202E) can make `photo‮gnp.exe` read as `photoexe.png`. Every
widget that shows such text goes through this module:

- `PlainLabel`: a label that never reads its text as HTML and shows hidden characters escaped;
- `literal(text)`: for widgets without a text-format setting (tooltips, message boxes);
- `escaped(text)`: a value inside rich text the app composes itself;
- `visible(text)`: for text drawn as it is (combo and list items, painted captions, the log).
"""
from __future__ import annotations

import html
import unicodedata

from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Marks and embeddings/overrides/isolates that reorder what follows them on screen."""
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Control characters, lone surrogates (a file name's undecodable bytes) and line/paragraph separators."""
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    """`char` as Python writes it in a string literal; an undecodable byte as that byte."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by Python's surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text: str, *, lines: bool = False) -> str:
    """`text` with control characters, bidi controls and undecodable bytes written as escapes
    (`\\u202e`, `\\x1b`, `\\n`, `\\xff`), so that a name shows every character it has and cannot fake
    its suffix. `lines`: keep line breaks and tabs (a message); otherwise they are escaped too (a name)."""
    if text.isprintable():  # the common case: nothing hidden (isprintable is False for each kind above)
        return text
    keep = "\n\t" if lines else ""
    return "".join(_escape(c) if c not in keep and (c in _BIDI_CONTROLS or unicodedata.category(c) in _HIDDEN_CATEGORIES)
                   else c for c in text)


def escaped(text: str) -> str:
    """`text` as a value inside rich text the app composes (`<b>{escaped(name)}</b>`): HTML-escaped,
    hidden characters shown."""
    return html.escape(visible(text), quote=False)


def literal(text: str) -> str:
    """`text` for a widget that guesses between plain and rich text (tooltips, message boxes):
    itself where Qt shows it as plain text anyway, else HTML that shows it character for character."""
    shown = visible(text, lines=True)
    if not QtGui.Qt.mightBeRichText(shown):
        return shown
    return QtGui.Qt.convertFromPlainText(shown, Qt.WhiteSpaceMode.WhiteSpaceNormal)


class PlainLabel(QLabel):
    """A label whose text is shown as it is: never as HTML, hidden characters escaped (`visible`)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(visible(text, lines=True))


"""The Qt binding itself must be sound: PySide6 6.12.0 on CPython 3.11 drops a reference to None
on every call of a method returning void, and Python aborts ("none_dealloc") once None's count
reaches zero — a long session or training run would crash the app. pyproject excludes it."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


def test_void_calls_do_not_leak_references_to_none(qtbot: QtBot) -> None:
    label = QLabel("x")
    qtbot.addWidget(label)
    label.update()  # warm up any one-time caches
    before = sys.getrefcount(None)
    for _ in range(10_000):
        label.update()
    assert abs(sys.getrefcount(None) - before) < 100

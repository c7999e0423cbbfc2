"""GUI test fixtures: offscreen Qt, isolated QSettings, the app in English whatever the machine's
locale, and a guard failing any test that leaves a job running.

There is deliberately no `tests/gui/__init__.py`: with pytest's default import mode it would make
this folder a package named `gui` and shadow the app's `gui` package.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import shutil  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from gui import i18n  # noqa: E402
from gui.jobs import cancel_all_and_wait, live_workers  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from translator.paths import user_models_dir  # noqa: E402

GRACE_MS = 2000  # a finished job's last queued signals need an event-loop turn to arrive


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, qapp: QApplication) -> Iterator[Path]:
    """QSettings() writes INI files under a temporary folder, never the user's real settings."""
    folder = tmp_path_factory.mktemp("qsettings")
    old_format = QSettings.defaultFormat()
    old_org, old_app = qapp.organizationName(), qapp.applicationName()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.SystemScope, str(folder / "system"))
    qapp.setOrganizationName("image-translator-tests")
    qapp.setApplicationName("image-translator-tests")
    yield folder
    QSettings.setDefaultFormat(old_format)
    qapp.setOrganizationName(old_org)
    qapp.setApplicationName(old_app)


@pytest.fixture(autouse=True)
def _english(qapp: QApplication) -> Iterator[None]:
    """Every test sees the app in English (the tests assert English texts), whatever the machine's
    locale; a test that installs another language gets English back afterwards."""
    i18n.install(qapp, "en")
    yield
    i18n.install(qapp, "en")


@pytest.fixture(autouse=True)
def _no_job_left_running(qtbot: QtBot) -> Iterator[None]:
    """Fail the test if a JobWorker is still live after it (and stop it, so later tests are clean)."""
    yield
    try:
        qtbot.waitUntil(lambda: not live_workers(), timeout=GRACE_MS)
    except qtbot.TimeoutError:
        left = [w.name for w in live_workers()]
        stopped = cancel_all_and_wait(10000)
        pytest.fail(f"test left job(s) running: {left}" + ("" if stopped else " (and they did not stop when cancelled)"))


@pytest.fixture()
def window(qtbot: QtBot, tiny_pix2pix: Path, tmp_path: Path) -> MainWindow:
    """The main window with a tiny pix2pix model (with a discriminator) in the user models folder.
    (Test files that need another set-up define their own `window`.)"""
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_pix2pix, folder / "tiny-p2p.safetensors")
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture()
def chosen_window(window: MainWindow) -> MainWindow:
    """`window` at 1400×900 with its tiny pix2pix model chosen in the picker."""
    window.resize(1400, 900)
    window.picker.select(user_models_dir() / "tiny-p2p.safetensors")
    return window


@pytest.fixture()
def pairs(tmp_path: Path, photos: dict[str, np.ndarray]) -> Path:
    """data/A (inputs) and data/B (targets: the negatives) with the same names: real photos, 96×72."""
    for side in ("A", "B"):
        (tmp_path / "data" / side).mkdir(parents=True)
    for name, rgb in sorted(photos.items()):
        small = Image.fromarray(rgb).resize((96, 72))
        small.save(tmp_path / "data" / "A" / f"{name}.png")
        Image.fromarray(255 - np.asarray(small)).save(tmp_path / "data" / "B" / f"{name}.png")
    return tmp_path / "data" / "A"


ShiftedCopies = Callable[..., Path]


@pytest.fixture()
def shifted_copies() -> ShiftedCopies:
    """`shifted_copies(folder, photo, count, size, step=, axis=)`: `count` copies of a real photo,
    each rolled `step` more pixels along `axis`, resized to `size` and saved as `folder/NN.png` —
    a folder whose images all differ, for jobs that take a while."""

    def make(folder: Path, photo: np.ndarray, count: int, size: tuple[int, int], *, step: int, axis: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(np.roll(photo, step * i, axis=axis)).resize(size).save(folder / f"{i:02d}.png")
        return folder

    return make

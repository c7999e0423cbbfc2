"""The app with untrusted model files: File → Import… of a `.pth` whose pickle would run code shows
a message naming the file and runs nothing; a model whose card lies about its tensors shows the
mismatch in the preview — no traceback, no crash, nothing left running."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot
from safetensors import safe_open
from safetensors.torch import save_file

from gui.main_window import MainWindow
from translator.checkpoint import CARD_KEY
from translator.paths import user_models_dir


class _RunsCode:
    """Unpickling this runs `touch <marker>`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _action(window: MainWindow, text: str) -> QAction:
    [action] = [a for a in window.findChildren(QAction) if a.text() == text]
    return action


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_file_import_of_a_checkpoint_that_would_run_code(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, zip_format: bool) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil_net_G.pth"
    buf = io.BytesIO()
    torch.save({"model.1.weight": torch.zeros(4, 3, 7, 7), "model.1.bias": _RunsCode(marker)}, buf,
               _use_new_zipfile_serialization=zip_format)
    evil.write_bytes(buf.getvalue())
    # The dialogs File → Import… opens: the generator, the kind, no discriminator, the name.
    monkeypatch.setattr("gui.widgets.model_picker.QFileDialog.getOpenFileNames",
                        lambda _parent, title, *_a, **_k: ([] if title.startswith("Discriminator") else [str(evil)], ""))
    monkeypatch.setattr("gui.widgets.model_picker.QInputDialog.getItem", lambda *_a, **_k: ("pix2pix", True))
    monkeypatch.setattr("gui.widgets.model_picker.QInputDialog.getText", lambda *_a, **_k: ("evil", True))
    shown: list[str] = []
    monkeypatch.setattr("gui.main_window.QMessageBox.warning", lambda _parent, _title, text: shown.append(text))

    _action(window, "Import model…").trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    [message] = shown
    assert message.startswith(f"{evil}: refused") and "could run code" in message, message
    assert "Traceback" not in message and "unexpected error" not in message
    assert not marker.exists()
    assert not (user_models_dir() / "evil.safetensors").exists()
    assert [p.name for p, _ in window.picker.entries()] == ["tiny-p2p.safetensors"]


def test_a_model_whose_card_lies_shows_the_mismatch_in_the_preview(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                                   tiny_cyclegan: Path) -> None:
    # resnet tensors under a card that says unet_256: the picker lists it (its card reads fine)
    with safe_open(str(tiny_cyclegan), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        card = json.loads(f.metadata()[CARD_KEY])
    card["generators"]["g_ab"]["arch"] = "unet_256"
    liar = user_models_dir() / "liar.safetensors"
    save_file(tensors, str(liar), metadata={CARD_KEY: json.dumps(card)})
    window.picker.refresh()
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(folder / "grey.png")
    window.open_folder(folder, folder / "grey.png")
    window.picker.select(liar, "AtoB")
    assert window.session.model_path == liar
    qtbot.waitUntil(lambda: "weights do not fit" in window.preview.status.text(), timeout=20000)
    status = window.preview.status.text()
    assert status.startswith(f"{liar} [g_ab]: weights do not fit unet_256"), status
    assert "the tensors look like resnet_2blocks" in status and "unexpected error" not in status
    qtbot.waitUntil(lambda: not window.preview_jobs.is_busy(), timeout=20000)

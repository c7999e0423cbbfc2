"""Import… in the model picker: a sensible default name, discriminators imported too (chosen among
the files or in a second, optional dialog), and a model of the same name replaced only when the
user says so."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from gui.widgets.model_picker import ModelPicker
from translator.checkpoint import load_model, read_card
from translator.paths import user_models_dir
from translator.reference import export_reference, import_to_models

REF = Path(__file__).parent.parent / "data" / "reference"
UNET_G = REF / "unet_128_ngf8_batch_dropout_net_G.pth"
PATCH_D = REF / "basic_ndf8_batch_in6_net_D.pth"


class Dialogs:
    """Stands in for the modal dialogs Import… opens (as pytest-qt's docs show), recording what the
    picker asked: file dialog titles, the kind offered first, the name offered."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, generators: list[Path], discriminators: list[Path],
                 kind: str, name: str | None = None, replace: bool = False) -> None:
        self.titles: list[str] = []
        self.offered_kind: str | None = None
        self.offered_name: str | None = None
        self.questions: list[str] = []

        def open_files(_parent: Any, title: str, *_a: Any, **_k: Any) -> tuple[list[str], str]:
            self.titles.append(title)
            chosen = discriminators if title.startswith("Discriminator") else generators
            return [str(p) for p in chosen], ""

        def get_item(_parent: Any, _title: str, _label: str, items: list[str], current: int, *_a: Any) -> tuple[str, bool]:
            self.offered_kind = items[current]
            return kind, True

        def get_text(*_a: Any, text: str = "", **_k: Any) -> tuple[str, bool]:
            self.offered_name = text
            return (name if name is not None else text), True

        def question(_parent: Any, _title: str, text: str, *_a: Any) -> QMessageBox.StandardButton:
            self.questions.append(text)
            return QMessageBox.StandardButton.Yes if replace else QMessageBox.StandardButton.No

        monkeypatch.setattr("gui.widgets.model_picker.QFileDialog.getOpenFileNames", open_files)
        monkeypatch.setattr("gui.widgets.model_picker.QInputDialog.getItem", get_item)
        monkeypatch.setattr("gui.widgets.model_picker.QInputDialog.getText", get_text)
        monkeypatch.setattr("gui.widgets.model_picker.QMessageBox.question", question)


@pytest.fixture()
def picker(qtbot: QtBot) -> ModelPicker:
    p = ModelPicker()
    qtbot.addWidget(p)
    return p


def _idle(qtbot: QtBot, picker: ModelPicker) -> None:
    qtbot.waitUntil(lambda: picker._worker is not None and not picker._worker.is_running(), timeout=20000)


def test_a_cyclegan_run_folder_imports_with_its_discriminators(qtbot: QtBot, picker: ModelPicker, tmp_path: Path,
                                                               tiny_cyclegan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "checkpoints" / "horse2zebra"
    folder.mkdir(parents=True)
    files = export_reference(load_model(tiny_cyclegan), folder)  # latest_net_G_A, G_B, D_A, D_B
    dialogs = Dialogs(monkeypatch, generators=files, discriminators=[], kind="cyclegan")
    with qtbot.waitSignal(picker.refreshed, timeout=20000):
        picker.ask_import()
    assert dialogs.offered_kind == "cyclegan" and dialogs.offered_name == "horse2zebra"
    assert len(dialogs.titles) == 1  # the discriminators were among the files: no second dialog
    out = user_models_dir() / "horse2zebra.safetensors"
    assert [d for p, d in picker.entries() if p == out] == ["AtoB", "BtoA"]
    assert list(read_card(out).discriminators) == ["d_a", "d_b"]
    assert "discriminator: yes" in picker.details.toolTip()
    _idle(qtbot, picker)


def test_a_pix2pix_generator_then_its_discriminator_in_the_optional_dialog(
    qtbot: QtBot, picker: ModelPicker, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialogs = Dialogs(monkeypatch, generators=[UNET_G], discriminators=[PATCH_D], kind="pix2pix")
    with qtbot.waitSignal(picker.refreshed, timeout=20000):
        picker.ask_import()
    assert dialogs.offered_kind == "pix2pix" and dialogs.offered_name == "unet_128_ngf8_batch_dropout"
    assert dialogs.titles[1] == "Discriminator(s) (optional, needed for the realness readout and fine-tuning)"
    card = read_card(user_models_dir() / "unet_128_ngf8_batch_dropout.safetensors")
    assert list(card.discriminators) == ["d"] and "discriminator: yes" in picker.details.toolTip()
    _idle(qtbot, picker)


def test_importing_over_an_existing_model_asks_first(qtbot: QtBot, picker: ModelPicker,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    existing = import_to_models([UNET_G], kind="pix2pix", name="facades")
    before = existing.read_bytes()
    picker.refresh()

    no = Dialogs(monkeypatch, generators=[UNET_G], discriminators=[PATCH_D], kind="pix2pix", name="facades")
    picker.ask_import()
    qtbot.waitUntil(lambda: bool(no.questions), timeout=20000)
    _idle(qtbot, picker)
    [asked] = no.questions
    assert "facades" in asked and str(existing) in asked and "Replace it?" in asked
    assert existing.read_bytes() == before  # "No": nothing written

    yes = Dialogs(monkeypatch, generators=[UNET_G], discriminators=[PATCH_D], kind="pix2pix", name="facades", replace=True)
    with qtbot.waitSignal(picker.refreshed, timeout=20000):
        picker.ask_import()
    assert len(yes.questions) == 1
    assert existing.read_bytes() != before and list(read_card(existing).discriminators) == ["d"]
    assert picker.current() == (existing, None) and "discriminator: yes" in picker.details.toolTip()
    _idle(qtbot, picker)

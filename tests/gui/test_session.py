"""The session object: one signal per real change, target folders found by dataset naming,
settings that survive a restart."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from gui.session import (
    KEY_DEVICE,
    KEY_INPUT_FOLDER,
    KEY_PRECISION,
    KEY_TARGET_FOLDER,
    Session,
    find_target,
    find_target_folder,
)
from translator.inference import InferenceOptions


def record(session: Session) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    for name in ("modelChanged", "directionChanged", "inputFolderChanged", "currentImageChanged", "targetFolderChanged", "optionsChanged"):
        getattr(session, name).connect(lambda value, n=name: seen.append((n, value)))
    return seen


def dirs(root: Path, *names: str) -> None:
    for n in names:
        (root / n).mkdir(parents=True)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_each_change_signals_once_and_repeats_signal_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    s = Session()
    seen = record(s)
    model = touch(tmp_path / "m.safetensors")

    s.model_path = model
    s.model_path = str(model)  # same value, as a string
    s.direction = "BtoA"
    s.direction = "BtoA"
    s.current_image = tmp_path / "x.png"
    s.current_image = tmp_path / "x.png"
    s.options = InferenceOptions(precision="bf16")
    s.options = InferenceOptions(precision="bf16")  # equal, though a different object
    s.update_options(precision="bf16")
    s.update_options(device="cpu")
    s.model_path = None

    assert seen == [
        ("modelChanged", model),
        ("directionChanged", "BtoA"),
        ("currentImageChanged", tmp_path / "x.png"),
        ("optionsChanged", InferenceOptions(precision="bf16")),
        ("optionsChanged", InferenceOptions(precision="bf16", device="cpu")),
        ("modelChanged", None),
    ]
    assert s.options.device == "cpu" and s.model_path is None


def test_invalid_values_are_refused(qtbot: QtBot) -> None:
    s = Session()
    with pytest.raises(ValueError, match="direction"):
        s.direction = "sideways"
    with pytest.raises(ValueError, match="mode"):
        s.update_options(mode="fast")
    with pytest.raises(TypeError):
        s.options = {"device": "cpu"}  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("existing", "inp", "expected"),
    [
        (["A", "B"], "A", "B"),
        (["A", "B"], "B", "A"),
        (["trainA", "trainB", "testA", "testB"], "trainA", "trainB"),
        (["trainA", "trainB", "testA", "testB"], "testA", "testB"),
        (["input", "target"], "input", "target"),
        (["inputs", "targets"], "inputs", "targets"),
        (["Inputs", "Targets"], "Inputs", "Targets"),
        (["A"], "A", None),  # no sibling
        (["photos", "data"], "photos", None),
        (["input", "targets"], "input", "targets"),
    ],
)
def test_find_target_folder(tmp_path: Path, existing: list[str], inp: str, expected: str | None) -> None:
    dirs(tmp_path, *existing)
    found = find_target_folder(tmp_path / inp)
    assert found == (tmp_path / expected if expected else None)


def test_find_target_ignores_a_file_of_that_name(tmp_path: Path) -> None:
    dirs(tmp_path, "A")
    touch(tmp_path / "B")
    assert find_target_folder(tmp_path / "A") is None


def test_target_for_matches_stem_with_any_image_extension(tmp_path: Path) -> None:
    src, dst = tmp_path / "A", tmp_path / "B"
    touch(src / "cat.png")
    touch(dst / "cat.jpg")
    touch(src / "dog.png")
    touch(dst / "dog.png")
    touch(dst / "dog.webp")  # the same extension wins
    touch(src / "sub" / "owl.png")
    touch(dst / "sub" / "owl.tif")
    touch(src / "eel.png")
    touch(dst / "eel.txt")  # not an image

    s = Session()
    s.input_folder = src
    assert s.target_folder == dst and s.target_folder_is_automatic
    assert s.target_for(src / "cat.png") == dst / "cat.jpg"
    assert s.target_for(src / "dog.png") == dst / "dog.png"
    assert s.target_for(src / "sub" / "owl.png") == dst / "sub" / "owl.tif"
    assert s.target_for(src / "eel.png") is None
    assert find_target(src / "cat.png", dst) == dst / "cat.jpg"

    s.target_folder = None  # the user says: no targets
    assert s.target_for(src / "cat.png") is None


def test_target_folder_follows_the_input_until_the_user_picks_one(qtbot: QtBot, tmp_path: Path) -> None:
    dirs(tmp_path, "trainA", "trainB", "testA", "testB", "mine")
    s = Session()
    seen = record(s)
    img = touch(tmp_path / "trainA" / "x.png")

    s.input_folder = tmp_path / "trainA"
    s.current_image = img
    s.target_folder = tmp_path / "mine"
    s.target_folder = tmp_path / "mine"
    assert not s.target_folder_is_automatic
    s.reset_target_folder()
    s.target_folder = tmp_path / "mine"
    s.input_folder = tmp_path / "testA"  # a new input: automatic again, the image is cleared

    assert seen == [
        ("inputFolderChanged", tmp_path / "trainA"),
        ("targetFolderChanged", tmp_path / "trainB"),
        ("currentImageChanged", img),
        ("targetFolderChanged", tmp_path / "mine"),
        ("targetFolderChanged", tmp_path / "trainB"),
        ("targetFolderChanged", tmp_path / "mine"),
        ("inputFolderChanged", tmp_path / "testA"),
        ("currentImageChanged", None),
        ("targetFolderChanged", tmp_path / "testB"),
    ]
    assert s.target_folder_is_automatic


def test_settings_round_trip(qtbot: QtBot, tmp_path: Path) -> None:
    dirs(tmp_path, "A", "B", "gt")
    model = touch(tmp_path / "m.safetensors")
    ini = str(tmp_path / "settings.ini")

    s = Session()
    s.model_path = model
    s.input_folder = tmp_path / "A"
    s.target_folder = tmp_path / "gt"
    s.update_options(device="cpu", precision="bf16", mode="reference")
    s.settings_save(QSettings(ini, QSettings.Format.IniFormat))

    restored = Session()
    seen = record(restored)
    restored.settings_load(QSettings(ini, QSettings.Format.IniFormat))
    assert restored.model_path == model
    assert restored.input_folder == tmp_path / "A"
    assert restored.target_folder == tmp_path / "gt" and not restored.target_folder_is_automatic
    assert (restored.options.device, restored.options.precision) == ("cpu", "bf16")
    assert restored.options.mode == "eval"  # only device and precision persist
    assert [n for n, _ in seen].count("optionsChanged") == 1

    # An automatic target is not saved: it is found again next time.
    restored.reset_target_folder()
    restored.settings_save(QSettings(ini, QSettings.Format.IniFormat))
    assert not QSettings(ini, QSettings.Format.IniFormat).contains(KEY_TARGET_FOLDER)
    again = Session()
    again.settings_load(QSettings(ini, QSettings.Format.IniFormat))
    assert again.target_folder == tmp_path / "B"


def test_settings_load_skips_stale_or_unknown_values(qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue(KEY_INPUT_FOLDER, str(tmp_path / "gone"))
    settings.setValue(KEY_PRECISION, "fp8")
    settings.setValue(KEY_DEVICE, "cpu")
    s = Session()
    s.settings_load(settings)
    assert s.input_folder is None
    assert s.options == InferenceOptions(device="cpu", precision="auto")  # the rest stays at the app's defaults


def test_default_qsettings_are_isolated(qtbot: QtBot, _isolated_settings: Path) -> None:
    settings = QSettings()
    Session().settings_save(settings)
    assert Path(settings.fileName()).is_relative_to(_isolated_settings)


def test_slot_setters_behave_like_the_properties(qtbot: QtBot, tmp_path: Path) -> None:
    dirs(tmp_path, "A", "B")
    s = Session()
    seen = record(s)
    s.set_model(tmp_path / "m.safetensors", "AtoB")
    s.set_model(tmp_path / "m.safetensors", "AtoB")
    s.set_input_folder(tmp_path / "A")
    s.set_current_image(tmp_path / "A" / "x.png")
    s.set_options(InferenceOptions(device="cpu"))
    assert [n for n, _ in seen] == ["modelChanged", "directionChanged", "inputFolderChanged", "targetFolderChanged", "currentImageChanged", "optionsChanged"]

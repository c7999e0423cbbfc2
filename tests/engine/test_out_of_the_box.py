"""Out of the box: sample photos no demo model saw, demo models rebuilt from their recipes, and
`make run` (gui/launch.py) on a machine without a display."""
from __future__ import annotations

import importlib
import math
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from translator import imaging
from translator.checkpoint import load_model
from translator.metrics import psnr

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def recipes() -> Iterator[types.SimpleNamespace]:
    """The recipe scripts and the benchmark's photo list, imported as `make weights` runs them
    (`python -m weights.recipes.…` from the repository root)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT))
        yield types.SimpleNamespace(
            tasks=importlib.import_module("bench.quality.tasks"),
            build_data=importlib.import_module("weights.recipes.build_data"),
            make_weights=importlib.import_module("weights.recipes.make_weights"),
        )


@pytest.fixture(scope="module")
def demo(recipes: types.SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """The demo models made by `make_weights.py` with 2 steps on one crop per photo, and the names
    of the photos the data builder loaded on the way."""
    tmp = tmp_path_factory.mktemp("demo")
    loaded: list[str] = []

    def recording_load(name: str) -> np.ndarray:
        loaded.append(name)
        return recipes.tasks.load_photo(name)

    for name in recipes.build_data.DATASETS:  # make_weights reuses these: same root, same per_photo
        recipes.build_data.build(name, tmp / "work" / "demo-data", per_photo=1, load=recording_load)
    code = recipes.make_weights.main(["--steps", "2", "--per-photo", "1", "--workers", "0", "--threads", "1", "--quiet",
                                      "--out-dir", str(tmp / "weights"), "--work-dir", str(tmp / "work")])
    assert code == 0
    return types.SimpleNamespace(weights=tmp / "weights", data=tmp / "work" / "demo-data", loaded=loaded)


# --- samples/ ----------------------------------------------------------------------------------


def test_samples_are_the_held_out_photos(recipes: types.SimpleNamespace) -> None:
    files = sorted(p for p in SAMPLES.iterdir() if imaging.is_image_path(p))
    assert {p.stem for p in files} == set(recipes.tasks.TEST_PHOTOS)
    assert sum(p.stat().st_size for p in files) < 1_000_000
    readme = (SAMPLES / "README.md").read_text()
    assert all(p.name in readme for p in files) and "CC BY 2.0" in readme
    for path in files:
        img = imaging.read_image(path)
        # each sample is its held-out photo at native size, up to JPEG's loss
        photo = recipes.tasks.load_photo(path.stem)
        assert img.rgb.shape == photo.shape
        assert psnr(img.rgb, photo) > 35.0, path.name


def test_demo_data_never_loads_a_held_out_photo(recipes: types.SimpleNamespace, demo: types.SimpleNamespace) -> None:
    held_out = set(recipes.tasks.TEST_PHOTOS)
    assert demo.loaded and not held_out & set(demo.loaded)
    assert set(demo.loaded) == set(recipes.build_data.training_photos())
    stems = {p.stem.rsplit("_", 1)[0] for p in demo.data.rglob("*.png")}
    assert stems and not held_out & stems
    # the unpaired dataset: colour photos on both sides, the B side stylised (not the same pixels)
    painting = demo.data / "demo-photo2painting"
    side_a = {p.stem.rsplit("_", 1)[0] for p in (painting / "trainA").glob("*.png")}
    side_b = {p.stem.rsplit("_", 1)[0] for p in (painting / "trainB").glob("*.png")}
    colour = {name for name in side_a if recipes.tasks.PHOTOS[name][1]}
    assert side_a == side_b == colour and colour
    a, b = (sorted((painting / side).glob("*.png"))[0] for side in ("trainA", "trainB"))
    assert psnr(imaging.read_image(a).rgb, imaging.read_image(b).rgb) < 30


# --- make weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo-day2night", "demo-photo2painting", "demo-sketch2photo"])
def test_make_weights_writes_a_small_fp16_model_with_a_full_card(
    recipes: types.SimpleNamespace, demo: types.SimpleNamespace, name: str
) -> None:
    path = demo.weights / f"{name}.safetensors"
    assert path.stat().st_size <= 15 * 1024 * 1024  # same networks as the full recipe: only steps differ
    with safe_open(str(path), framework="pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys() if "num_batches" not in k} == {"torch.float16"}
    model = load_model(path)
    card = model.card
    assert card.name == name and card.task and card.domains != ("A", "B")
    assert "demo model of modest quality" in card.notes and "held out" in card.notes
    assert card.training["steps"] == 2
    assert card.training["recipe"]["base_filters"] == 16
    assert card.training["recipe_file"] == f"weights/recipes/{name}.toml"
    data = card.training["data"]
    assert data["held_out"] == list(recipes.tasks.TEST_PHOTOS) and data["rendering"]
    if card.kind == "pix2pix":
        assert sorted(data["photos"]) == sorted(recipes.build_data.training_photos())
    else:  # the colour training photos, on both sides
        colour = [p for p in recipes.build_data.training_photos() if recipes.tasks.PHOTOS[p][1]]
        assert data["photos"]["A"] == data["photos"]["B"] == colour
    if card.kind == "pix2pix":  # paired: validation PSNR/SSIM
        assert math.isfinite(card.training["validation"]["psnr"]) and 0 < card.training["validation"]["ssim"] <= 1
    assert "QUICK CHECK" in card.notes  # a model made with --steps says it is not the shipped one
    # the sketch model says how its input looks (the Sketch tab draws that way); the others do not
    assert (card.input_style is not None) == (name == "demo-sketch2photo")


# --- make run ----------------------------------------------------------------------------------


@pytest.fixture()
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")


def test_make_run_without_a_display_translates_the_samples(
    demo: types.SimpleNamespace, no_display: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gui import launch

    out = tmp_path / "demo"
    code = launch.main(["--weights", str(demo.weights), "--output", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.splitlines()[0].startswith("No display")
    assert "--model " in printed and str(demo.weights / "demo-day2night.safetensors") in printed  # demo-day2night chosen
    assert f"results: {out}/" in printed
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in SAMPLES.iterdir() if imaging.is_image_path(p))
    for name in written:
        assert imaging.read_image(out / name).rgb.shape == imaging.read_image(SAMPLES / name).rgb.shape


def test_make_run_without_a_model_says_how_to_get_one(
    no_display: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gui import launch

    code = launch.main(["--weights", str(tmp_path / "empty"), "--output", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 1
    assert "make weights" in printed and "translator zoo get" in printed
    assert not (tmp_path / "out").exists()


def test_make_run_with_a_display_opens_the_app_on_the_samples(
    demo: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gui import launch
    from translator.paths import user_models_dir

    opened: list[list[str]] = []
    fake_app = types.ModuleType("gui.app")
    fake_app.main = lambda argv: opened.append(list(argv)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gui.app", fake_app)  # no Qt needed to see what it is asked to open
    monkeypatch.setenv("DISPLAY", ":0")
    weights, user = tmp_path / "weights", user_models_dir()
    for folder in (weights, user):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo.weights / "demo-photo2painting.safetensors", weights)
    assert launch.main(["--weights", str(weights)]) == 0  # no demo-day2night anywhere: the first shipped model
    shutil.copy(demo.weights / "demo-day2night.safetensors", user)
    assert launch.main(["--weights", str(weights)]) == 0  # demo-day2night preferred, even a downloaded one
    shutil.copy(demo.weights / "demo-day2night.safetensors", weights)
    assert launch.main(["--weights", str(weights)]) == 0  # the shipped one first
    assert opened == [
        [str(SAMPLES), "--model", str(weights / "demo-photo2painting.safetensors")],
        [str(SAMPLES), "--model", str(user / "demo-day2night.safetensors")],
        [str(SAMPLES), "--model", str(weights / "demo-day2night.safetensors")],
    ]


def test_has_display() -> None:
    from gui.launch import has_display

    assert not has_display({}, "linux") and not has_display({"DISPLAY": ""}, "linux")
    assert has_display({"DISPLAY": ":0"}, "linux") and has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert has_display({}, "darwin") and has_display({}, "win32")

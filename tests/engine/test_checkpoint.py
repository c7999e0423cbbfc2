"""Our model file: safetensors + card; strict loading with helpful mismatch messages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from translator.checkpoint import (
    CARD_KEY,
    InputStyle,
    ModelCard,
    build_model,
    find_models,
    load_model,
    read_card,
    resolve_model_path,
    save_model,
)
from translator.errors import ArchitectureMismatch, CheckpointError
from translator.networks import GeneratorSpec


def test_round_trip_keeps_card_and_weights(tiny_pix2pix: Path) -> None:
    model = load_model(tiny_pix2pix)
    assert model.card.name == "tiny-p2p" and model.card.kind == "pix2pix"
    assert model.card.generators["g"] == GeneratorSpec("unet_64", 8, "batch", True)
    assert set(model.nets) == {"g", "d"}
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    again = load_model(tiny_pix2pix)
    with torch.no_grad():
        assert torch.equal(model.nets["g"].eval()(x), again.nets["g"].eval()(x))


def test_card_lives_in_safetensors_metadata(tiny_cyclegan: Path) -> None:
    with safe_open(str(tiny_cyclegan), framework="pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
    card = json.loads(meta[CARD_KEY])
    assert card["kind"] == "cyclegan" and set(card["generators"]) == {"g_ab", "g_ba"}
    assert card["generators"]["g_ab"]["arch"] == "resnet_2blocks"
    assert {k.split(".")[0] for k in keys} == {"g_ab", "g_ba", "d_a", "d_b"}
    assert read_card(tiny_cyclegan).directions() == ["AtoB", "BtoA"]


def test_fp16_storage_halves_size_and_loads_as_fp32(tmp_path: Path) -> None:
    card = ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_32", 8)})
    model = build_model(card, seed=0)
    a = save_model(model, tmp_path / "a.safetensors")
    b = save_model(model, tmp_path / "b.safetensors", dtype=torch.float16)
    assert b.stat().st_size < 0.6 * a.stat().st_size
    loaded = load_model(b)
    w = loaded.nets["g"].state_dict()["model.model.0.weight"]
    assert w.dtype == torch.float32
    torch.testing.assert_close(w, model.nets["g"].state_dict()["model.model.0.weight"], atol=1e-3, rtol=1e-3)


def test_mismatched_card_says_which_field_differs(tmp_path: Path) -> None:
    model = build_model(ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_64", 8)}), seed=0)
    path = save_model(model, tmp_path / "m.safetensors")
    # Rewrite the card to claim 16 base filters: shapes no longer fit.
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    wrong = ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_64", 16)})
    save_file(tensors, str(path), metadata={CARD_KEY: wrong.to_json()})
    with pytest.raises(ArchitectureMismatch, match="base_filters"):
        load_model(path)
    wrong = ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_128", 8)})
    save_file(tensors, str(path), metadata={CARD_KEY: wrong.to_json()})
    with pytest.raises(ArchitectureMismatch, match="depth"):
        load_model(path)


def test_files_that_are_not_models_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_model(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(1)}, str(bare))
    with pytest.raises(CheckpointError, match="without a model card"):
        load_model(bare)
    pth = tmp_path / "ref.pth"
    torch.save({"x": torch.zeros(1)}, pth)
    with pytest.raises(CheckpointError, match="translator import"):
        load_model(pth)


def test_models_found_by_name_in_user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSLATOR_MODELS_DIR", str(tmp_path))
    save_model(build_model(ModelCard("mine", "pix2pix", {"g": GeneratorSpec("unet_32", 4)})), tmp_path / "mine.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"nope")
    assert resolve_model_path("mine") == tmp_path / "mine.safetensors"
    assert [c.name for _, c in find_models([tmp_path])] == ["mine"]
    with pytest.raises(CheckpointError, match="no model of that name"):
        resolve_model_path("absent")


def test_card_validation() -> None:
    with pytest.raises(ValueError, match="kind must be one of pix2pix, cyclegan, not .stylegan."):
        ModelCard("m", "stylegan", {"g": GeneratorSpec()})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cyclegan generators"):
        ModelCard("m", "cyclegan", {"g": GeneratorSpec()})


def test_one_direction_cyclegan_refuses_the_other(tmp_path: Path) -> None:
    card = ModelCard("m", "cyclegan", {"g_ab": GeneratorSpec("resnet_1blocks", 4, "instance", False)})
    model = build_model(card)
    assert model.generator("AtoB")[1].arch == "resnet_1blocks"
    with pytest.raises(CheckpointError, match="no BtoA generator"):
        model.generator("BtoA")


def test_input_skip_round_trips_and_a_card_without_it_is_refused(tmp_path: Path) -> None:
    spec = GeneratorSpec("unet_64", 8, "instance", False, input_skip=True)
    model = build_model(ModelCard("skip", "pix2pix", {"g": spec}), seed=0)
    with torch.no_grad():
        model.nets["g"].skip.weight.mul_(0.5)  # a trained mix, not the starting identity
    path = save_model(model, tmp_path / "skip.safetensors")
    back = load_model(path)
    assert back.card.generators["g"].input_skip
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(back.nets["g"](x), model.nets["g"](x), atol=0, rtol=0)
    # a card that forgets the skip does not silently drop the trained mix
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    wrong = ModelCard("skip", "pix2pix", {"g": GeneratorSpec("unet_64", 8, "instance", False)})
    save_file(tensors, str(path), metadata={CARD_KEY: wrong.to_json()})
    with pytest.raises(ArchitectureMismatch, match="skip.weight"):
        load_model(path)


def test_input_style_round_trips_and_old_cards_load_without_it(tmp_path: Path) -> None:
    style = InputStyle("black pencil lines on white", ink="#101010", paper="#fafafa", line_width=2.5)
    card = ModelCard("sketch", "pix2pix", {"g": GeneratorSpec("unet_32", 4)}, input_style=style)
    path = save_model(build_model(card, seed=0), tmp_path / "sketch.safetensors")
    assert read_card(path).input_style == style
    assert json.loads(card.to_json())["input_style"] == {
        "description": "black pencil lines on white", "ink": "#101010", "paper": "#fafafa", "line_width": 2.5}
    # a card written before the field existed: no "input_style" key at all
    old = json.loads(card.to_json())
    del old["input_style"]
    assert ModelCard.from_json(json.dumps(old)).input_style is None
    assert "input_style" not in json.loads(ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_32", 4)}).to_json())
    # an integer width in JSON is a width too; defaults fill what a card leaves out
    old["input_style"] = {"description": "lines", "line_width": 3}
    assert ModelCard.from_json(json.dumps(old)).input_style == InputStyle("lines", "#000000", "#ffffff", 3.0)


@pytest.mark.parametrize(
    ("style", "message"),
    [
        ({"description": "x", "ink": "black"}, "input_style.ink must be a colour like #000000"),
        ({"description": "x", "paper": "#fff"}, "input_style.paper must be a colour"),
        ({"description": "x", "ink": 0}, "input_style.ink must be a string"),
        ({"description": 5}, "input_style.description must be a string"),
        ({"ink": "#000000"}, "input_style lacks its description"),
        ({"description": "x", "line_width": "2"}, "input_style.line_width must be a number"),
        ({"description": "x", "line_width": True}, "input_style.line_width must be a number"),
        ({"description": "x", "line_width": -1}, "line_width must be a positive number"),
        ({"description": "x", "line_width": float("nan")}, "line_width must be a positive number"),
        ({"description": "x", "colour": "#000000"}, "unknown field.s. colour"),
        ("lines", "input_style must be an object"),
    ],
)
def test_malformed_input_style_is_refused_naming_the_field(style: object, message: str, tmp_path: Path) -> None:
    d = json.loads(ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_32", 4)}).to_json())
    d["input_style"] = style
    with pytest.raises(ValueError, match=message):
        ModelCard.from_json(json.dumps(d))
    # in a file, the same card is a CheckpointError naming the file
    tensors = {f"g.{k}": v for k, v in build_model(ModelCard("m", "pix2pix", {"g": GeneratorSpec("unet_32", 4)})).nets["g"].state_dict().items()}
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata={CARD_KEY: json.dumps(d)})
    with pytest.raises(CheckpointError, match="m.safetensors.*input_style"):
        read_card(tmp_path / "m.safetensors")

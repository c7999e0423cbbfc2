"""Importing reference checkpoints into the models folder: one engine function with one set of rules
(a sensible default name, discriminators too, never a silent overwrite), and `translator import`
on top of it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from translator.checkpoint import load_model, read_card
from translator.paths import user_models_dir
from translator.reference import (
    ModelExists,
    default_model_name,
    export_reference,
    import_to_models,
    model_file,
    split_reference_files,
)

REF = Path(__file__).parent.parent / "data" / "reference"
UNET_G = REF / "unet_128_ngf8_batch_dropout_net_G.pth"
PATCH_D = REF / "basic_ndf8_batch_in6_net_D.pth"


@pytest.fixture()
def horse2zebra(tmp_path: Path, tiny_cyclegan: Path) -> Path:
    """A CycleGAN run folder as the reference's train.py leaves it: latest_net_{G,D}_{A,B}.pth."""
    folder = tmp_path / "checkpoints" / "horse2zebra"
    folder.mkdir(parents=True)
    export_reference(load_model(tiny_cyclegan), folder)
    return folder


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("checkpoints/horse2zebra/latest_net_G_A.pth", "horse2zebra"),
        ("checkpoints/horse2zebra/latest_net_D_B.pth", "horse2zebra"),
        ("facades_label2photo_net_G.pth", "facades_label2photo"),
        ("checkpoints/facades_label2photo_pretrained/latest_net_G.pth", "facades_label2photo"),
        ("runs/night/200_net_G.pth", "night"),
        ("runs/night/iter_5000_net_G_B.pth", "night"),
        ("200_edges2shoes_net_G.pth", "edges2shoes"),
        ("downloads/style_monet.pth", "style_monet"),
        ("tests/data/reference/unet_128_ngf8_batch_dropout_net_G.pth", "unet_128_ngf8_batch_dropout"),
    ],
)
def test_default_name_comes_from_the_file_or_its_folder(path: str, name: str) -> None:
    assert default_model_name(Path(path)) == name


def test_generators_and_discriminators_are_told_apart_by_name(horse2zebra: Path) -> None:
    files = sorted(horse2zebra.iterdir(), reverse=True)  # G_B, G_A, D_B, D_A: not the import order
    gens, ds = split_reference_files(files)
    assert [p.name for p in gens] == ["latest_net_G_A.pth", "latest_net_G_B.pth"]
    assert [p.name for p in ds] == ["latest_net_D_A.pth", "latest_net_D_B.pth"]
    assert split_reference_files([UNET_G]) == ([UNET_G], [])


def test_imports_a_cyclegan_pair_with_its_discriminators(horse2zebra: Path, tiny_cyclegan: Path) -> None:
    gens, ds = split_reference_files(list(horse2zebra.iterdir()))
    out = import_to_models(gens, kind="cyclegan", name=default_model_name(gens[0]), discriminators=ds)
    assert out == user_models_dir() / "horse2zebra.safetensors"
    card = read_card(out)
    assert list(card.generators) == ["g_ab", "g_ba"] and list(card.discriminators) == ["d_a", "d_b"]
    # The reference's D_A judges domain B: it is our d_b, and the weights round-trip exactly.
    original, imported = load_model(tiny_cyclegan), load_model(out)
    for role in ("g_ab", "g_ba", "d_a", "d_b"):
        a, b = original.nets[role].state_dict(), imported.nets[role].state_dict()
        assert all((a[k] == b[k]).all() for k in a), role


def test_never_replaces_a_model_unless_told(tmp_path: Path) -> None:
    out = import_to_models([UNET_G], kind="pix2pix", name="facades")
    before = out.read_bytes()
    with pytest.raises(ModelExists) as refused:
        import_to_models([UNET_G], kind="pix2pix", name="facades", discriminators=[PATCH_D])
    assert refused.value.path == out and str(out) in str(refused.value)
    assert out.read_bytes() == before
    assert import_to_models([UNET_G], kind="pix2pix", name="facades", discriminators=[PATCH_D], overwrite=True) == out
    assert list(read_card(out).discriminators) == ["d"]
    assert not [p for p in out.parent.iterdir() if p != out]  # no temporary file left beside it


def test_refuses_names_that_are_not_plain_file_names() -> None:
    for bad in ("", "  ", "../escape", "a/b", "c:d", ".."):
        with pytest.raises(ValueError, match="name"):
            model_file(bad)
    with pytest.raises(ValueError, match="one generator, or two"):
        import_to_models([UNET_G, UNET_G], kind="pix2pix", name="two")


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "translator", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def test_cli_refuses_to_overwrite_without_force(horse2zebra: Path) -> None:
    gens = [horse2zebra / "latest_net_G_A.pth", horse2zebra / "latest_net_G_B.pth"]
    first = _cli("import", *gens, "--kind", "cyclegan")  # no --name: from the folder
    assert first.returncode == 0, first.stderr
    out = user_models_dir() / "horse2zebra.safetensors"
    assert str(out) in first.stdout and not read_card(out).discriminators
    before = out.read_bytes()

    again = _cli("import", *gens, "--kind", "cyclegan", "-d", horse2zebra / "latest_net_D_A.pth", horse2zebra / "latest_net_D_B.pth")
    assert again.returncode == 2
    assert f"{out} already exists: pass --force to replace it" in again.stderr and "Traceback" not in again.stderr
    assert out.read_bytes() == before

    for flag in ("--force", "--overwrite"):
        forced = _cli("import", *gens, "--kind", "cyclegan", "-d", horse2zebra / "latest_net_D_A.pth",
                      horse2zebra / "latest_net_D_B.pth", flag)
        assert forced.returncode == 0, forced.stderr
        assert list(read_card(out).discriminators) == ["d_a", "d_b"] and out.read_bytes() != before

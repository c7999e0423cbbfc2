"""Untrusted model files never run code and never crash the tool.

A `.pth` whose pickle would run a shell command is refused, naming the file, by every way in: the
importer, `translator import`, `translator inspect`, the commands that open model files, and a zoo
download — and the command never runs (the marker file it would create never appears). A model
file whose card lies about its tensors (another architecture, other shapes, a tensor missing or
extra) raises `ArchitectureMismatch` naming the tensor and expected vs found, through
`load_model`, `translator translate -m` (exit status 2, one line) and `translator inspect`, without
first allocating what the card claims.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from translator.checkpoint import CARD_KEY, ModelCard, build_model, load_model, read_card, save_model
from translator.cli import main
from translator.errors import ArchitectureMismatch, CheckpointError
from translator.jobs import run_job
from translator.networks import GeneratorSpec, build_generator
from translator.paths import user_models_dir
from translator.reference import import_reference
from translator.zoo import DownloadError, find_entry, get_model, partial_path
from tests.engine.zoo_server import ZooServer, zoo_server  # noqa: F401 (the fixture "server")

REF = Path(__file__).parent.parent / "data" / "reference"
UNET_G = REF / "unet_128_ngf8_batch_dropout_net_G.pth"  # a real reference generator
FORMATS = {"zip": True, "legacy": False}  # torch.save's _use_new_zipfile_serialization


class _RunsCode:
    """Unpickling this runs `touch <marker>`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _evil_bytes(marker: Path, fmt: str) -> bytes:
    """A reference-looking state dict with one entry whose unpickling would create `marker`."""
    state: dict[str, Any] = {"model.1.weight": torch.zeros(4, 3, 7, 7), "model.1.bias": _RunsCode(marker)}
    buf = io.BytesIO()
    torch.save(state, buf, _use_new_zipfile_serialization=FORMATS[fmt])
    return buf.getvalue()


@pytest.fixture(params=sorted(FORMATS))
def evil(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(an evil `.pth`, the marker its payload would create); the marker must never exist."""
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil_{request.param}_net_G.pth"
    path.write_bytes(_evil_bytes(marker, request.param))
    yield path, marker
    assert not marker.exists(), "the checkpoint's code ran"


def _one_line_error(err: str, *names: str) -> str:
    """The single `error: ...` line a failing command printed; it names every one of `names`."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert all(n in lines[0] for n in names), lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------------
# a .pth that would run code


def test_the_payload_really_runs_when_unpickled_without_protection(tmp_path: Path) -> None:
    """The fixture is a real attack: a plain `torch.load(weights_only=False)` creates the marker."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(_evil_bytes(marker, "legacy"))
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_inspect_refuses_it(evil: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path, _marker = evil
    assert main(["inspect", str(path)]) == 2
    line = _one_line_error(capsys.readouterr().err, path.name, "refused")
    assert "posix.system" in line or "os.system" in line


def test_import_refuses_it_in_either_role(evil: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _marker = evil
    out = tmp_path / "x.safetensors"
    assert main(["import", str(path), "--kind", "pix2pix", "--name", "x", "-o", str(out)]) == 2
    _one_line_error(capsys.readouterr().err, path.name, "refused")
    # as the discriminator, next to a good generator: nothing is written either
    assert main(["import", str(UNET_G), "-d", str(path), "--kind", "pix2pix", "--name", "x", "-o", str(out)]) == 2
    _one_line_error(capsys.readouterr().err, path.name, "refused")
    assert not out.exists()


def test_import_reference_refuses_it_as_the_second_generator(evil: tuple[Path, Path]) -> None:
    path, _marker = evil
    with pytest.raises(CheckpointError, match="refused") as err:
        import_reference(REF / "resnet_6blocks_ngf8_instance_net_G.pth", kind="cyclegan", name="x", generator_b=path)
    assert path.name in str(err.value)


@pytest.mark.parametrize("command", ["translate", "inspect", "export"])
def test_commands_that_open_model_files_never_unpickle_it(evil: tuple[Path, Path], tmp_path: Path, command: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A `.pth` given where a model file belongs (even renamed to `.safetensors`) is read as
    safetensors, which has no code in it, and refused as not a model file."""
    path, _marker = evil
    disguised = path.with_suffix(".safetensors")
    disguised.write_bytes(path.read_bytes())
    photo = tmp_path / "in.png"
    Image.new("RGB", (32, 32)).save(photo)
    args = {
        "translate": ["translate", "-m", str(disguised), str(photo), "-o", str(tmp_path / "out")],
        "inspect": ["inspect", str(disguised)],
        "export": ["export", str(disguised), "-o", str(tmp_path / "exp")],
    }[command]
    assert main(args) == 2
    _one_line_error(capsys.readouterr().err, disguised.name, "not a readable model file")
    assert not (tmp_path / "out").exists() and not (tmp_path / "exp").exists()


def test_a_zoo_download_that_would_run_code_is_refused_and_deleted(evil: tuple[Path, Path], server: ZooServer) -> None:
    path, _marker = evil
    entry = find_entry("horse2zebra", base=server.base)
    server.files["/cyclegan/pretrained_models/horse2zebra.pth"] = path.read_bytes()
    with pytest.raises(DownloadError) as err:
        run_job(get_model(entry, backoff_s=0.01))
    msg = str(err.value)
    assert "horse2zebra" in msg and "refused" in msg and "could run code" in msg and "it was deleted" in msg
    assert not partial_path(entry).exists()
    assert not list(user_models_dir().glob("*.safetensors")) if user_models_dir().exists() else True


# --------------------------------------------------------------------------------------------
# a model file whose card lies about its tensors

G = GeneratorSpec("resnet_2blocks", 8, "instance", False)


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pix2pix model file with a resnet_2blocks generator (8 filters), card and tensors agreeing."""
    card = ModelCard("honest", "pix2pix", {"g": G})
    return save_model(build_model(card, seed=0), tmp_path_factory.mktemp("honest") / "honest.safetensors")


def _tensors_and_card(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()[CARD_KEY])


def _forge(dst: Path, tensors: dict[str, torch.Tensor], card: dict[str, Any]) -> Path:
    save_file(tensors, str(dst), metadata={CARD_KEY: json.dumps(card), "format": "pt"})
    return dst


def _liar(kind: str, honest: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A forged model file and the words its refusal must contain."""
    tensors, card = _tensors_and_card(honest)
    if kind == "arch":  # the card says unet_256 (64 filters); the tensors are the resnet's
        card["generators"]["g"].update(arch="unet_256", base_filters=64)
        words = ["unet_256", "model.model.0.weight", "model.1.weight", "the tensors look like resnet_2blocks",
                 "arch (unet_256 in the card, resnet_2blocks in the tensors)"]
    elif kind == "shape":  # a conv with 5 output channels instead of 8
        tensors["g.model.1.weight"] = torch.zeros(5, 3, 7, 7)
        words = ["model.1.weight: file (5, 3, 7, 7) vs expected (8, 3, 7, 7)", "base_filters"]
    elif kind == "missing":
        del tensors["g.model.4.weight"]
        words = ["1 tensor(s) missing from the file: model.4.weight"]
    elif kind == "extra":
        tensors["g.model.4.extra"] = torch.zeros(3)
        words = ["1 unexpected tensor(s) in the file: model.4.extra"]
    elif kind == "no_role":  # a tensor no network of the card claims
        tensors["payload"] = torch.zeros(3)
        words = ["belong to no network the card lists", "payload"]
    elif kind == "no_tensors":  # the card lists a discriminator the file lacks
        card["discriminators"] = {"d": {"arch": "patch", "n_layers": 3, "base_filters": 8, "norm": "batch", "in_channels": 6}}
        words = ["the card lists d but the file holds no tensors"]
    elif kind == "integers":  # weights stored as integers
        tensors["g.model.1.weight"] = torch.zeros(8, 3, 7, 7, dtype=torch.int32)
        words = ["hold integers or booleans where weights belong", "model.1.weight"]
    elif kind == "huge":  # a card claiming 100000 filters: 720 GB if it were built before checking
        card["generators"]["g"]["base_filters"] = 100_000
        words = ["file (8, 3, 7, 7) vs expected (100000, 3, 7, 7)", "base_filters (100000 in the card, 8 in the tensors)"]
    elif kind == "deep":  # a card claiming 10^8 residual blocks
        card["generators"]["g"]["arch"] = "resnet_100000000blocks"
        words = ["resnet_100000000blocks", "holds 20 tensor(s) for it"]
    else:
        raise AssertionError(kind)
    return _forge(tmp_path / f"liar_{kind}.safetensors", tensors, card), words


LIES = ["arch", "shape", "missing", "extra", "no_role", "no_tensors", "integers", "huge", "deep"]


@pytest.mark.parametrize("kind", LIES)
def test_load_model_names_the_mismatch(kind: str, honest: Path, tmp_path: Path) -> None:
    path, words = _liar(kind, honest, tmp_path)
    read_card(path)  # the card itself is well-formed: only the tensors give the lie away
    start = time.perf_counter()
    with pytest.raises(ArchitectureMismatch) as err:
        load_model(path)
    assert time.perf_counter() - start < 5  # refused from the header: nothing of the claimed size built
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_the_honest_file_loads(honest: Path) -> None:
    """The forgeries differ from a file that loads in nothing but the lie."""
    model = load_model(honest)
    assert model.card.generators["g"] == G and set(model.nets) == {"g"}


@pytest.mark.parametrize("kind", LIES)
def test_translate_and_inspect_fail_with_one_line(kind: str, honest: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, words = _liar(kind, honest, tmp_path)
    photo = tmp_path / "in.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(photo)
    assert main(["translate", "-q", "-m", str(path), str(photo), "-o", str(tmp_path / "out")]) == 2
    _one_line_error(capsys.readouterr().err, path.name, *words[:1])
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert main(["inspect", str(path)]) == 2
    _one_line_error(capsys.readouterr().err, path.name, *words[:1])


def test_translate_in_a_real_process_exits_2_without_a_traceback(honest: Path, tmp_path: Path) -> None:
    path, _words = _liar("arch", honest, tmp_path)
    photo = tmp_path / "in.png"
    Image.new("RGB", (32, 32)).save(photo)
    proc = subprocess.run([sys.executable, "-m", "translator", "translate", "-q", "-m", str(path), str(photo),
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    _one_line_error(proc.stderr, path.name, "weights do not fit unet_256", "resnet_2blocks")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: c.update(generators=[]), "generators must be an object, not []"),
        (lambda c: c["generators"]["g"].update(base_filters="8"), 'generators.g.base_filters must be an integer, not "8"'),
        (lambda c: c["generators"]["g"].update(base_filters=10**30), "generators.g.base_filters is out of range"),
        (lambda c: c["generators"]["g"].update(in_channels=-3), "generators.g.in_channels must not be negative"),
        (lambda c: c["generators"]["g"].update(dropout="yes"), "generators.g.dropout must be true or false"),
        (lambda c: c["generators"]["g"].update(exec="os.system"), "generators.g has unknown field(s) exec"),
        (lambda c: c.update(format_version=float("inf")), "format_version must be an integer"),
        (lambda c: c.update(domains="AB"), "domains must be a list"),
        (lambda c: c.update(name=None), "name must be a string, not null"),
    ],
    ids=["generators-list", "filters-string", "filters-huge", "channels-negative", "dropout-string", "unknown-field",
         "version-infinite", "domains-string", "name-null"],
)
def test_a_card_of_the_wrong_types_is_refused_naming_the_field(change: Any, words: str, honest: Path, tmp_path: Path) -> None:
    tensors, card = _tensors_and_card(honest)
    change(card)
    path = _forge(tmp_path / "typed.safetensors", tensors, card)
    for load in (read_card, load_model):
        with pytest.raises(CheckpointError, match="the model card is malformed") as err:
            load(path)
        assert str(err.value).startswith(str(path)) and words in str(err.value), str(err.value)


def test_a_card_nested_too_deeply_is_refused(honest: Path, tmp_path: Path) -> None:
    tensors, _card = _tensors_and_card(honest)
    path = tmp_path / "deep.safetensors"
    save_file(tensors, str(path), metadata={CARD_KEY: "[" * 100_000 + "]" * 100_000})
    with pytest.raises(CheckpointError, match="nested too deeply") as err:
        read_card(path)
    assert str(path) in str(err.value)


def test_a_reference_generator_loads_after_the_checks(tmp_path: Path) -> None:
    """The header checks accept what the importer writes (a real reference U-Net, with BatchNorm
    counters and fp16 storage), so they refuse only lies."""
    model = import_reference(UNET_G, kind="pix2pix", name="ok")
    path = save_model(model, tmp_path / "ok.safetensors", dtype=torch.float16)
    loaded = load_model(path)
    ref = build_generator(model.card.generators["g"])
    assert set(loaded.nets["g"].state_dict()) == set(ref.state_dict())

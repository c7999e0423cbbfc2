"""Hostile model files and names: nothing inflates, nothing non-finite runs, no bad advice, safe names.

A reference `.pth` of a few KB whose tensors repeat their data (stride-0 `expand` views, views
sharing one storage) can declare a network of gigabytes; it is refused before anything of that
size is allocated, by `translator import`, `translator inspect` and `zoo get` (peak RSS measured
in a separate process). A network beyond the sane range (filters, depth, channels, parameters) is
refused before it is built, from a reference file or a model file's card. Weights holding NaN or
Inf are refused on load, naming the tensor. A refused pickle's message never passes on torch's
advice to load it with `weights_only=False`. Model names that become file names are one plain
path component. `export_reference` never replaces a file unless told to.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from translator.checkpoint import ModelCard, build_model, check_spec_bounds, load_model, save_model
from translator.cli import main
from translator.errors import BadName, CheckpointError, TranslatorError
from translator.jobs import run_job
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_generator
from translator.paths import user_models_dir
from translator.reference import (
    check_model_name,
    export_reference,
    import_reference,
    import_to_models,
    load_failure,
    model_file,
    read_state_dict,
)
from translator.zoo import DownloadError, find_entry, get_model, model_path, partial_path
from tests.engine.zoo_server import ZooServer, zoo_server  # noqa: F401 (the fixture "server")

REF = Path(__file__).parent.parent / "data" / "reference"
RESNET_G = REF / "resnet_6blocks_ngf8_instance_net_G.pth"  # a real reference generator (InstanceNorm)
UNET_G = REF / "unet_128_ngf8_batch_dropout_net_G.pth"  # and one with BatchNorm
BIG = GeneratorSpec("resnet_9blocks", 384, "instance", False)  # 409 M parameters: 1.6 GB in float32
RSS_LIMIT_MB = 200


def _layout(spec: GeneratorSpec) -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: t.shape for k, t in build_generator(spec).state_dict().items()}


def _inflating(kind: str, spec: GeneratorSpec = BIG) -> dict[str, torch.Tensor]:
    """A state dict of `spec`'s layout whose tensors repeat a few stored numbers."""
    layout = _layout(spec)
    shared = torch.zeros(1)
    # strides of 1 in every dimension: a (384, 3, 7, 7) tensor spans 398 stored numbers
    span = torch.zeros(max(sum(shape) - len(shape) + 1 for shape in layout.values()))
    out: dict[str, torch.Tensor] = {}
    for key, shape in layout.items():
        if kind == "expand":  # each tensor one stored number, stride 0
            out[key] = torch.zeros(1).expand(shape)
        elif kind == "one_storage":  # every tensor a view of the same single number
            out[key] = shared.expand(shape)
        elif kind == "overlapping":  # elements overlapping one another (as_strided)
            out[key] = span.as_strided(shape, (1,) * len(shape))
        else:
            raise AssertionError(kind)
    return out


def _save(state: dict[str, Any], path: Path, legacy: bool = False) -> Path:
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


def _declared_bytes(state: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in state.values())


def _one_line_error(err: str, *words: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert all(w in lines[0] for w in words), (words, lines[0])
    return lines[0]


# --------------------------------------------------------------------------------------------
# a local file server for zoo downloads


# --------------------------------------------------------------------------------------------
# nothing inflates

# Runs CLI commands in a fresh process; prints each exit status and the peak RSS growth since the
# modules were imported (ru_maxrss is a peak: it only grows, so the last figure bounds them all).
_MEASURE = """
import json, resource, sys
import translator.cli, translator.reference, translator.zoo, translator.checkpoint
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
codes = [translator.cli.main(argv) for argv in json.loads(sys.argv[1])]
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps({"codes": codes, "growth_mb": growth}))
"""


def _measure(commands: list[list[str]]) -> tuple[list[int], float, str]:
    """(exit statuses, peak RSS growth in MB, stderr) of `commands` run by one fresh process."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(commands)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["codes"], out["growth_mb"], proc.stderr


@pytest.mark.parametrize("kind", ["expand", "one_storage", "overlapping"])
def test_a_few_kb_pth_declaring_a_gigabyte_network_is_refused_without_allocating_it(
    kind: str, tmp_path: Path, server: ZooServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`translator import`, `inspect` and `zoo get` refuse it naming the tensor; the process's peak
    RSS grows by less than 200 MB (loading it used to take 1.7 GB and import it)."""
    state = _inflating(kind)
    path = _save(state, tmp_path / f"{kind}_net_G.pth")
    assert path.stat().st_size < 30_000 and _declared_bytes(state) > 1.5e9
    server.serve("horse2zebra", path.read_bytes())
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", server.base)
    out = tmp_path / "out.safetensors"
    codes, growth, err = _measure([
        ["import", str(path), "--kind", "cyclegan", "--name", "x", "-o", str(out)],
        ["inspect", str(path)],
        ["zoo", "get", "horse2zebra"],
    ])
    assert codes == [2, 2, 2], err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and "Traceback" not in err, err
    for line in errors:
        assert "model.1.weight declares (384, 3, 7, 7)" in line and "a view repeating its data" in line, line
    assert path.name in errors[0] and path.name in errors[1] and "horse2zebra" in errors[2]
    assert growth < RSS_LIMIT_MB, f"peak RSS grew by {growth:.0f} MB"
    assert not out.exists() and not list(user_models_dir().glob("*.safetensors"))


def test_keys_viewing_one_storage_differently_are_refused_naming_both(tmp_path: Path) -> None:
    """Every key a different view of one stored buffer: each fits in it, together they declare 18
    times the file (a 9 MB file, a 170 MB network; at scale a few MB declare gigabytes)."""
    layout = _layout(GeneratorSpec("resnet_9blocks", 128, "instance", False))
    buffer = torch.zeros(max(s.numel() for s in layout.values()))
    state = {k: buffer[: s.numel()].view(s) for k, s in layout.items()}
    path = _save(state, tmp_path / "shared_net_G.pth")
    assert _declared_bytes(state) > 15 * path.stat().st_size
    with pytest.raises(CheckpointError) as err:
        import_reference(path, kind="cyclegan", name="x")
    msg = str(err.value)
    assert msg.startswith(str(path)) and "model.1.weight and model.1.bias are different views of the same stored numbers" in msg


def test_tied_weights_that_are_the_very_same_view_still_load(tmp_path: Path) -> None:
    """Two keys holding the same view (tied weights) inflate nothing and are accepted."""
    state = read_state_dict(RESNET_G)
    tied = state["model.10.conv_block.5.bias"] = state["model.10.conv_block.1.bias"]  # one storage, one view
    path = _save(state, tmp_path / "tied_net_G.pth")
    net = import_reference(path, kind="cyclegan", name="x").nets["g_ab"]
    assert torch.equal(net.state_dict()["model.10.conv_block.5.bias"], tied)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_honest_reference_files_pass_the_checks_in_either_format(legacy: bool, tmp_path: Path) -> None:
    for src in (RESNET_G, UNET_G):
        path = _save(read_state_dict(src), tmp_path / src.name, legacy=legacy)
        assert import_reference(path, kind="pix2pix" if src == UNET_G else "cyclegan", name="ok").nets


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (GeneratorSpec("resnet_65blocks", 2, "instance", False), "has 65 residual blocks; this tool loads at most 64"),
        (GeneratorSpec("unet_2048", 1, "batch", True), "has 11 U-Net levels; this tool loads at most 10"),
        (GeneratorSpec("resnet_2blocks", 2, "instance", False, in_channels=5), "has 5 input channels; this tool loads at most 4"),
    ],
    ids=["blocks", "levels", "channels"],
)
def test_a_network_beyond_the_sane_range_is_refused_before_it_is_built(
    spec: GeneratorSpec, words: str, tmp_path: Path
) -> None:
    """From an honest (small) reference file and from our model file's card alike."""
    path = _save(build_generator(spec, seed=0).state_dict(), tmp_path / "odd_net_G.pth")
    with pytest.raises(CheckpointError) as err:
        import_reference(path, kind="cyclegan", name="x")
    assert str(err.value).startswith(str(path)) and words in str(err.value), str(err.value)
    model_path_ = save_model(build_model(ModelCard("odd", "cyclegan", {"g_ab": spec}), seed=0), tmp_path / "odd.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_model(model_path_)
    assert str(err.value).startswith(f"{model_path_} [g_ab]") and words in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (GeneratorSpec("resnet_9blocks", 2048, "instance", False), "has 2,048 filters; this tool loads at most 1,024"),
        (GeneratorSpec("resnet_64blocks", 1024, "instance", False), "parameters; this tool loads at most 500,000,000"),
        (DiscriminatorSpec("patch", 11, 8, "batch", 6), "has 11 layers; this tool loads at most 10"),
        (DiscriminatorSpec("patch", 3, 8, "batch", 9), "has 9 input channels; this tool loads at most 8"),
    ],
    ids=["filters", "parameters", "layers", "d-channels"],
)
def test_the_sane_range_bounds_filters_parameters_and_discriminators(spec: Any, words: str) -> None:
    with pytest.raises(CheckpointError, match="so the file is not") as err:
        check_spec_bounds(spec, source="f.pth")
    assert str(err.value).startswith("f.pth: ") and words in str(err.value), str(err.value)


def test_the_largest_real_networks_are_within_the_range() -> None:
    for spec in (GeneratorSpec("unet_256", 64, "batch", True), GeneratorSpec("resnet_9blocks", 64, "instance", False),
                 DiscriminatorSpec("patch", 3, 64, "batch", 6)):
        check_spec_bounds(spec, source="ok")


def test_a_tiny_model_file_whose_card_declares_a_gigabyte_network_is_refused_without_allocating_it(tmp_path: Path) -> None:
    """Our safetensors format: the card's network is checked against the file's header before
    anything is built (a guard that held before these checks too; kept under test)."""
    small = GeneratorSpec("resnet_9blocks", 4, "instance", False)
    path = save_model(build_model(ModelCard("tiny", "cyclegan", {"g_ab": small}), seed=0), tmp_path / "tiny.safetensors")
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    card = json.loads(header["__metadata__"]["translator.card"])
    card["generators"]["g_ab"]["base_filters"] = BIG.base_filters
    header["__metadata__"]["translator.card"] = json.dumps(card)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    forged = tmp_path / "forged.safetensors"
    forged.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + header_len :])
    assert forged.stat().st_size < 200_000
    codes, growth, err = _measure([["inspect", str(forged)]])
    assert codes == [2]
    _one_line_error(err, forged.name, "base_filters (384 in the card, 4 in the tensors)")
    assert growth < RSS_LIMIT_MB, f"peak RSS grew by {growth:.0f} MB"


# --------------------------------------------------------------------------------------------
# nothing non-finite


def _poisoned(value: float) -> dict[str, torch.Tensor]:
    state = read_state_dict(RESNET_G)
    state["model.4.weight"] = state["model.4.weight"].clone()
    state["model.4.weight"][0, 0, 0, 0] = value
    return state


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_a_reference_file_with_non_finite_weights_is_refused_naming_the_tensor(value: float, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(_poisoned(value), tmp_path / "bad_net_G.pth")
    with pytest.raises(CheckpointError) as err:
        import_reference(path, kind="cyclegan", name="x")
    assert str(err.value).startswith(f"{path}: contains NaN / Inf values in model.4.weight: the file is damaged")
    out = tmp_path / "x.safetensors"
    assert main(["import", str(path), "--kind", "cyclegan", "--name", "x", "-o", str(out)]) == 2
    _one_line_error(capsys.readouterr().err, path.name, "NaN / Inf values in model.4.weight")
    assert not out.exists()


def test_a_model_file_with_non_finite_weights_is_refused_naming_the_tensor(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """It used to translate into black images with exit status 0."""
    model = import_reference(RESNET_G, kind="cyclegan", name="x")
    with torch.no_grad():
        model.nets["g_ab"].state_dict()["model.4.weight"].view(-1)[3] = float("nan")
    path = save_model(model, tmp_path / "nan.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    assert str(err.value).startswith(f"{path} [g_ab]: contains NaN / Inf values in model.4.weight: the file is damaged")
    photo = tmp_path / "in.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(photo)
    assert main(["translate", "-q", "-m", str(path), str(photo), "-o", str(tmp_path / "out")]) == 2
    _one_line_error(capsys.readouterr().err, path.name, "NaN / Inf values in model.4.weight")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_zoo_download_with_non_finite_weights_is_refused_and_deleted(tmp_path: Path, server: ZooServer) -> None:
    server.serve("horse2zebra", _save(_poisoned(float("nan")), tmp_path / "nan.pth").read_bytes())
    entry = find_entry("horse2zebra", base=server.base)
    with pytest.raises(DownloadError) as err:
        run_job(get_model(entry, backoff_s=0.01))
    assert "NaN / Inf values in model.4.weight" in str(err.value) and "it was deleted" in str(err.value)
    assert not partial_path(entry).exists() and not list(user_models_dir().glob("*.safetensors"))


# --------------------------------------------------------------------------------------------
# no advice to load a refused file unsafely


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _no_unsafe_advice(text: str) -> None:
    assert "weights_only=False" not in text and "weights_only` set to `False" not in text, text
    assert "trust" not in text.lower(), text


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_refused_pickle_s_message_never_advises_weights_only_false(legacy: bool, tmp_path: Path, server: ZooServer,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """torch's own text says re-running with `weights_only=False` "will likely succeed" if the
    source is trusted; that would run the file's code, so the message must not pass it on."""
    marker = tmp_path / "pwned"
    path = _save({"model.1.weight": torch.zeros(4, 3, 7, 7), "model.1.bias": _RunsCode(marker)},
                 tmp_path / "evil_net_G.pth", legacy=legacy)
    with pytest.raises(Exception, match="Weights only load failed") as raw:
        torch.load(path, weights_only=True)
    assert "weights_only" in str(raw.value) and "trust" in str(raw.value)  # what torch says
    messages: list[str] = []
    with pytest.raises(CheckpointError) as err:
        read_state_dict(path)
    messages.append(str(err.value))
    for argv in (["inspect", str(path)], ["import", str(path), "--kind", "pix2pix", "--name", "x", "-o", str(tmp_path / "x.safetensors")]):
        assert main(argv) == 2
        messages.append(_one_line_error(capsys.readouterr().err, path.name, "refused"))
    server.serve("horse2zebra", path.read_bytes())
    with pytest.raises(DownloadError) as zoo_err:
        run_job(get_model(find_entry("horse2zebra", base=server.base), backoff_s=0.01))
    messages.append(str(zoo_err.value))
    for text in messages:
        _no_unsafe_advice(text)
        assert "could run code" in text
    assert not marker.exists()


def test_load_failure_drops_torch_s_advice_from_any_error_it_passes_on() -> None:
    """Also for a failure worded otherwise than today's "Weights only load failed" (a future torch)."""
    advice = RuntimeError("Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but only if you trust the source")
    text = load_failure(Path("state.pt"), advice)
    _no_unsafe_advice(text)
    assert text == "not a PyTorch checkpoint (RuntimeError: unreadable)"


# --------------------------------------------------------------------------------------------
# names that become file names

BAD_NAMES = ["a\nb", "tab\there", "nul\x00", "esc\x1b[31mred", "a/b", "a\\b", "c:d", "..", ".", ".hidden", "../up",
             "x" * 101, "", "   ", "bell\a", "del\x7f", "line\u2028sep"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_model_name_must_be_one_plain_printable_path_component(name: str, tmp_path: Path) -> None:
    entry = find_entry("horse2zebra")
    calls: list[Callable[[], object]] = [
        lambda: check_model_name(name),
        lambda: model_file(name),
        lambda: model_path(entry, name),
        lambda: import_to_models([RESNET_G], kind="cyclegan", name=name, output=tmp_path / "ok.safetensors"),
        lambda: run_job(get_model(entry, local_name=name)),
    ]
    for call in calls:
        with pytest.raises(BadName) as err:
            call()
        assert isinstance(err.value, TranslatorError) and isinstance(err.value, ValueError)
        msg = str(err.value)
        assert msg.startswith(f"model name {name!r}: ") and "printable characters" in msg and "\n" not in msg, msg
    assert not list(tmp_path.iterdir())


def test_plain_names_in_any_script_are_accepted() -> None:
    for name in ("horse2zebra", "my model (v2)", "모델-사진", "x" * 100, "a..b", "  padded  "):
        assert check_model_name(name) == name.strip()
        assert model_file(name).name == f"{name.strip()}.safetensors"


def test_zoo_get_with_a_newline_in_name_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "get", "horse2zebra", "--name", "evil\nname"]) == 2
    _one_line_error(capsys.readouterr().err, "'evil\\nname'")
    assert not user_models_dir().exists() or not list(user_models_dir().iterdir())


# --------------------------------------------------------------------------------------------
# export never replaces a file silently


@pytest.fixture()
def cyclegan(tmp_path: Path) -> Any:
    g = GeneratorSpec("resnet_2blocks", 4, "instance", False)
    d = DiscriminatorSpec("patch", 1, 4, "instance", 3, "lsgan")
    return build_model(ModelCard("cg", "cyclegan", {"g_ab": g, "g_ba": g}, {"d_a": d, "d_b": d}), seed=0)


def test_export_refuses_to_replace_an_existing_file_and_writes_nothing(cyclegan: Any, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    out.mkdir()
    mine = out / "latest_net_D_B.pth"  # the last file export would write: the user's
    mine.write_bytes(b"the user's own checkpoint")
    with pytest.raises(TranslatorError) as err:
        export_reference(cyclegan, out)
    assert f"{mine} already exists: pass --overwrite to replace it" in str(err.value)
    assert sorted(p.name for p in out.iterdir()) == ["latest_net_D_B.pth"]  # checked before writing any
    assert mine.read_bytes() == b"the user's own checkpoint"


def test_export_names_every_existing_file_and_replaces_them_only_when_asked(cyclegan: Any, tmp_path: Path) -> None:
    first = export_reference(cyclegan, tmp_path)
    before = {p: p.read_bytes() for p in first}
    with pytest.raises(TranslatorError) as err:
        export_reference(cyclegan, tmp_path)
    assert all(str(p) in str(err.value) for p in first) and "replace them" in str(err.value)
    assert {p: p.read_bytes() for p in first} == before
    again = export_reference(cyclegan, tmp_path, overwrite=True)
    assert again == first and sorted(tmp_path.iterdir()) == sorted(first)  # replaced atomically: no temporaries left
    assert read_state_dict(first[0]).keys() == cyclegan.nets["g_ab"].state_dict().keys()


def test_export_writes_files_the_importer_reads_back(cyclegan: Any, tmp_path: Path) -> None:
    files = export_reference(cyclegan, tmp_path)
    back = import_reference(files[0], kind="cyclegan", name="back", generator_b=files[1])
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.inference_mode():
        assert torch.allclose(back.nets["g_ab"].eval()(x), cyclegan.nets["g_ab"].eval()(x))


def test_large_but_finite_weights_are_not_taken_for_inf(tmp_path: Path) -> None:
    """The finiteness check sums first (cheap); a sum that overflows float32 is not an Inf."""
    state = read_state_dict(RESNET_G)
    state["model.4.weight"] = torch.full_like(state["model.4.weight"], 3e38)  # sums past float32's 3.4e38
    path = _save(state, tmp_path / "large_net_G.pth")
    assert torch.isinf(state["model.4.weight"].sum()) and torch.isfinite(state["model.4.weight"]).all()
    assert import_reference(path, kind="cyclegan", name="x").nets

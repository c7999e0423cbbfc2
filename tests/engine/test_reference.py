"""Reference checkpoints import exactly, quirks included, and export back; unsafe or foreign files
are refused with a message naming the file, without running anything in them."""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from translator.checkpoint import load_model, save_model
from translator.errors import ArchitectureMismatch, CheckpointError
from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator, build_generator
from translator.reference import (
    export_reference,
    import_reference,
    infer_discriminator_spec,
    infer_generator_spec,
    normalise_state_dict,
    read_state_dict,
)

DATA = Path(__file__).parent.parent / "data"
REF = DATA / "reference"
LAYOUTS: dict[str, Any] = json.loads((DATA / "reference_state_dicts.json").read_text())
UNET_G = REF / "unet_128_ngf8_batch_dropout_net_G.pth"
RESNET_G = REF / "resnet_6blocks_ngf8_instance_net_G.pth"
PATCH_D = REF / "basic_ndf8_batch_in6_net_D.pth"


def _image(name: str) -> torch.Tensor:
    a = np.asarray(Image.open(REF / name).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(a).permute(2, 0, 1)[None] / 255 * 2 - 1  # (1, 3, H, W) in [-1, 1]


def _ref_state(path: Path) -> OrderedDict[str, torch.Tensor]:
    sd: OrderedDict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return sd


def _save(tmp_path: Path, name: str, obj: object) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, p)
    return p


@torch.inference_mode()
def _run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.eval()(x)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------
# inference


@pytest.mark.parametrize("entry_name", sorted(LAYOUTS))
def test_infer_spec_of_every_reference_layout(entry_name: str) -> None:
    entry = LAYOUTS[entry_name]
    # Zero-stride views: the right shapes without allocating the 54M-parameter U-Net.
    state = {
        k: torch.zeros((), dtype=torch.long) if k.endswith("num_batches_tracked") else torch.zeros(()).expand(shape)
        for k, shape in entry["keys"]
    }
    args, kwargs = entry["define_args"]
    if len(args) == 4:  # define_G(input_nc, output_nc, ngf, netG)
        in_c, out_c, ngf, arch = args
        spec = infer_generator_spec(state)
        want = GeneratorSpec(arch, ngf, kwargs["norm"], kwargs["use_dropout"], in_c, out_c)
        assert spec == want
    else:  # define_D(input_nc, ndf, netD)
        in_c, ndf, arch = args
        dspec = infer_discriminator_spec(state)
        assert dspec == DiscriminatorSpec("patch" if arch == "basic" else arch, 3, ndf, kwargs["norm"], in_c)
    fixed = normalise_state_dict(state, spec if len(args) == 4 else dspec)
    assert [(k, list(v.shape)) for k, v in fixed.items()] == [(k, list(s)) for k, s in entry["keys"]]


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_infer_generator_spec_of_built_nets(norm: str) -> None:
    specs = [GeneratorSpec(a, 4, norm, True, c_in, c_out) for a in ("unet_32", "unet_64", "unet_256") for c_in, c_out in ((3, 3), (1, 4))]  # type: ignore[arg-type]
    specs += [GeneratorSpec(f"resnet_{n}blocks", 4, norm, d, c_in, c_out) for n in (1, 3) for d in (False, True) for c_in, c_out in ((3, 3), (4, 1))]  # type: ignore[arg-type]
    for spec in specs:
        assert infer_generator_spec(build_generator(spec).state_dict()) == spec
    unet = GeneratorSpec("unet_64", 4, norm, dropout=False)  # type: ignore[arg-type]
    assert infer_generator_spec(build_generator(unet).state_dict(), unet_dropout=False) == unet


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_infer_discriminator_spec_of_built_nets(norm: str) -> None:
    for spec in [DiscriminatorSpec("patch", n, 4, norm, c) for n in (1, 2, 3, 5) for c in (3, 6)] + [  # type: ignore[arg-type]
        DiscriminatorSpec("pixel", 3, 4, norm, c) for c in (3, 6)  # type: ignore[arg-type]
    ]:
        assert infer_discriminator_spec(build_discriminator(spec).state_dict()) == spec


def test_infer_says_when_a_discriminator_is_given_as_generator() -> None:
    with pytest.raises(CheckpointError, match="looks like a discriminator"):
        infer_generator_spec(_ref_state(PATCH_D))
    with pytest.raises(CheckpointError, match="looks like a generator"):
        infer_discriminator_spec(_ref_state(RESNET_G))


# ------------------------------------------------------------------------------------------
# real reference checkpoints


def test_pix2pix_fixture_imports_and_matches_reference_outputs(tmp_path: Path) -> None:
    model = import_reference(UNET_G, kind="pix2pix", name="astro", discriminator=PATCH_D, task="test")
    card = model.card
    assert card.generators["g"] == GeneratorSpec("unet_128", 8, "batch", True)
    assert card.discriminators["d"] == DiscriminatorSpec("patch", 3, 8, "batch", 6, gan_mode="vanilla")
    assert UNET_G.name in card.source and PATCH_D.name in card.source and "dropout" in card.notes

    loaded = load_model(save_model(model, tmp_path / "astro.safetensors"))
    x = _image("input_128x128.png")
    y_direct, y_loaded = _run(model.nets["g"], x), _run(loaded.nets["g"], x)
    assert torch.equal(y_direct, y_loaded)
    ref = torch.from_numpy(np.load(REF / "unet_128_eval_output_float.npy"))
    torch.testing.assert_close(y_loaded[0], ref, atol=1e-5, rtol=0)

    # The reference's default test mode: batch statistics (dropout p=0 to make it deterministic).
    g = loaded.nets["g"].train()
    for m in g.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    with torch.inference_mode():
        y_batch = g(x)
    ref_batch = torch.from_numpy(np.load(REF / "unet_128_batchstats_nodropout_output_float.npy"))
    torch.testing.assert_close(y_batch[0], ref_batch, atol=1e-5, rtol=0)

    logits = _run(loaded.nets["d"], torch.cat([x, ref[None]], 1))
    torch.testing.assert_close(logits[0, 0], torch.from_numpy(np.load(REF / "patchgan_eval_logits.npy")).reshape(logits.shape[2:]), atol=1e-5, rtol=0)


def test_cyclegan_fixture_imports_as_one_direction_model(tmp_path: Path) -> None:
    model = import_reference(RESNET_G, kind="cyclegan", name="r6")
    assert model.card.directions() == ["AtoB"] and list(model.nets) == ["g_ab"]
    assert model.card.generators["g_ab"] == GeneratorSpec("resnet_6blocks", 8, "instance", False)
    loaded = load_model(save_model(model, tmp_path / "r6.safetensors"))
    y = _run(loaded.nets["g_ab"], _image("input_96x128.png"))
    torch.testing.assert_close(y[0], torch.from_numpy(np.load(REF / "resnet_6blocks_output_float.npy")), atol=1e-5, rtol=0)

    back = import_reference(RESNET_G, kind="cyclegan", name="r6", direction="BtoA")
    assert back.card.directions() == ["BtoA"] and list(back.nets) == ["g_ba"]


# ------------------------------------------------------------------------------------------
# legacy quirks and re-implementations


def _assert_same_outputs(model_net: torch.nn.Module, path: Path, x: torch.Tensor) -> None:
    direct = import_reference(path, kind="pix2pix", name="direct").nets["g"]
    torch.testing.assert_close(_run(model_net, x), _run(direct, x), atol=0, rtol=0)


def test_module_prefix_is_stripped(tmp_path: Path) -> None:
    sd = OrderedDict(("module." + k, v) for k, v in _ref_state(UNET_G).items())
    p = _save(tmp_path, "ddp_net_G.pth", sd)
    assert list(read_state_dict(p)) == list(_ref_state(UNET_G))
    model = import_reference(p, kind="pix2pix", name="ddp")
    _assert_same_outputs(model.nets["g"], UNET_G, _image("input_128x128.png"))


def test_missing_num_batches_tracked_is_added(tmp_path: Path) -> None:
    sd = OrderedDict((k, v) for k, v in _ref_state(UNET_G).items() if not k.endswith("num_batches_tracked"))
    p = _save(tmp_path, "old_net_G.pth", sd)
    model = import_reference(p, kind="pix2pix", name="old")
    counters = {k: v for k, v in model.nets["g"].state_dict().items() if k.endswith("num_batches_tracked")}
    assert counters and all(v.item() == 0 for v in counters.values())
    assert "num_batches_tracked" in model.card.notes
    _assert_same_outputs(model.nets["g"], UNET_G, _image("input_128x128.png"))


def test_stray_instance_norm_running_stats_are_dropped(tmp_path: Path) -> None:
    sd = _ref_state(RESNET_G)
    # Where BatchNorm would sit is where an old InstanceNorm kept its (unused) statistics.
    batch = build_generator(GeneratorSpec("resnet_6blocks", 8, "batch", False)).state_dict()
    stray = {k: torch.rand(v.shape) if v.is_floating_point() else v for k, v in batch.items() if k.rsplit(".", 1)[-1] in ("running_mean", "running_var")}
    assert stray
    p = _save(tmp_path, "old_instance.pth", OrderedDict({**sd, **stray}))
    with pytest.raises(RuntimeError, match="running stats"):  # a plain strict load fails on them
        build_generator(GeneratorSpec("resnet_6blocks", 8, "instance", False)).load_state_dict(torch.load(p, weights_only=True))
    model = import_reference(p, kind="cyclegan", name="old")
    x = _image("input_96x128.png")
    torch.testing.assert_close(_run(model.nets["g_ab"], x)[0], torch.from_numpy(np.load(REF / "resnet_6blocks_output_float.npy")), atol=1e-5, rtol=0)


def test_block_alias_is_renamed(tmp_path: Path) -> None:
    sd = OrderedDict((k.replace(".conv_block.", ".block."), v) for k, v in _ref_state(RESNET_G).items())
    assert any(".block." in k for k in sd)
    model = import_reference(_save(tmp_path, "reimpl.pth", sd), kind="cyclegan", name="reimpl")
    x = _image("input_96x128.png")
    torch.testing.assert_close(_run(model.nets["g_ab"], x)[0], torch.from_numpy(np.load(REF / "resnet_6blocks_output_float.npy")), atol=1e-5, rtol=0)


def test_affine_instance_norm_generator_imports_and_its_weights_count(tmp_path: Path) -> None:
    spec = GeneratorSpec("resnet_2blocks", 4, "instance", False, norm_affine=True)
    src = build_generator(spec, seed=1)
    with torch.no_grad():
        for m in src.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    p = _save(tmp_path, "affine.pth", src.state_dict())
    assert infer_generator_spec(read_state_dict(p)) == spec
    model = import_reference(p, kind="cyclegan", name="affine")
    assert model.card.generators["g_ab"].norm_affine
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    y = _run(model.nets["g_ab"], x)
    torch.testing.assert_close(y, _run(src, x), atol=0, rtol=0)
    with torch.no_grad():
        model.nets["g_ab"].state_dict()["model.2.weight"].mul_(3)
    assert not torch.allclose(_run(model.nets["g_ab"], x), y)
    with pytest.raises(CheckpointError, match="affine"):
        export_reference(model, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_wrapped_state_dicts_and_legacy_format(tmp_path: Path) -> None:
    sd = _ref_state(PATCH_D)
    for i, obj in enumerate([{"state_dict": sd, "epoch": 3}, {"model": sd}, {"netG": sd}]):
        assert list(read_state_dict(_save(tmp_path, f"w{i}.pth", obj))) == list(sd)
    legacy = tmp_path / "legacy.pth"
    torch.save(sd, legacy, _use_new_zipfile_serialization=False)  # PyTorch < 1.6 format
    assert all(torch.equal(a, b) for a, b in zip(read_state_dict(legacy).values(), sd.values()))
    with pytest.raises(CheckpointError, match=r"several state dicts \(netG, netD\)") as err:
        read_state_dict(_save(tmp_path, "both.pth", {"netG": sd, "netD": sd}))
    assert "both.pth" in str(err.value)


# ------------------------------------------------------------------------------------------
# refusals


class _RunsCode:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_pickle_with_code_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for fmt in (True, False):
        p = tmp_path / f"evil_{fmt}.pth"
        torch.save({"model.1.weight": torch.zeros(1), "x": _RunsCode(marker)}, p, _use_new_zipfile_serialization=fmt)
        with pytest.raises(CheckpointError, match="refused") as err:
            import_reference(p, kind="cyclegan", name="evil")
        assert p.name in str(err.value) and "system" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pth", b"", "empty"),
        ("random.pth", np.random.default_rng(0).bytes(4096), "not a PyTorch checkpoint"),
        ("text.pth", b"hello, this is not a checkpoint\n", "not a PyTorch checkpoint"),
        ("truncated.pth", UNET_G.read_bytes()[: UNET_G.stat().st_size // 2], "truncated or corrupt"),
    ],
)
def test_damaged_or_foreign_files_are_refused(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as err:
        import_reference(p, kind="pix2pix", name="x")
    assert name in str(err.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file") as err:
        read_state_dict(tmp_path / "nope.pth")
    assert "nope.pth" in str(err.value)


def test_non_tensor_values_and_non_dicts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"not a state dict of tensors.*'epoch' \(int\)") as err:
        read_state_dict(_save(tmp_path, "mixed.pth", {"model.1.weight": torch.zeros(1), "epoch": 5}))
    assert "mixed.pth" in str(err.value)
    with pytest.raises(CheckpointError, match="holds a list") as err:
        read_state_dict(_save(tmp_path, "list.pth", [torch.zeros(1)]))
    assert "list.pth" in str(err.value)


def test_other_architecture_is_refused_listing_what_did_not_match(tmp_path: Path) -> None:
    classifier = {"conv1.weight": torch.zeros(8, 3, 7, 7), "bn1.running_mean": torch.zeros(8), "fc.weight": torch.zeros(10, 8)}
    p = _save(tmp_path, "resnet18.pth", classifier)
    with pytest.raises(CheckpointError, match="not a generator of the reference layout") as err:
        import_reference(p, kind="pix2pix", name="x")
    assert "resnet18.pth" in str(err.value) and "conv1.weight" in str(err.value) and "fc.weight" in str(err.value)


def test_damaged_layout_lists_the_differences(tmp_path: Path) -> None:
    sd = _ref_state(UNET_G)
    del sd["model.model.1.model.5.weight"]
    sd["model.model.1.model.6.weight"] = torch.zeros(5)
    sd["extra.weight"] = torch.zeros(1)
    p = _save(tmp_path, "damaged.pth", sd)
    with pytest.raises(ArchitectureMismatch) as err:
        import_reference(p, kind="pix2pix", name="x")
    msg = str(err.value)
    assert "damaged.pth" in msg and "unet_128" in msg
    assert "missing: model.model.1.model.5.weight" in msg and "unexpected key(s): extra.weight" in msg
    assert "model.model.1.model.6.weight file (5,) vs (8,)" in msg


def test_discriminator_must_fit_the_kind(tmp_path: Path) -> None:
    d3 = _save(tmp_path, "d3.pth", build_discriminator(DiscriminatorSpec("patch", 3, 4, "instance", 3)).state_dict())
    with pytest.raises(ArchitectureMismatch, match="d3.pth.*cat\\(input, output\\) = 6") as err:
        import_reference(UNET_G, kind="pix2pix", name="x", discriminator=d3)
    assert "kind cyclegan" in str(err.value)
    with pytest.raises(ArchitectureMismatch, match="kind pix2pix"):
        import_reference(RESNET_G, kind="cyclegan", name="x", discriminator=PATCH_D)


# ------------------------------------------------------------------------------------------
# CycleGAN pairs and export


def _cyclegan_files(tmp_path: Path) -> dict[str, Path]:
    g = GeneratorSpec("resnet_2blocks", 4, "instance", False)
    d = DiscriminatorSpec("patch", 3, 4, "instance", 3)
    nets = {"G_A": build_generator(g, seed=1), "G_B": build_generator(g, seed=2), "D_A": build_discriminator(d, seed=3), "D_B": build_discriminator(d, seed=4)}
    return {k: _save(tmp_path, f"latest_net_{k}.pth", n.state_dict()) for k, n in nets.items()}


def test_cyclegan_pair_imports_into_one_file_with_roles_by_domain(tmp_path: Path) -> None:
    f = _cyclegan_files(tmp_path)
    model = import_reference(
        f["G_A"], kind="cyclegan", name="pair", generator_b=f["G_B"], discriminator=f["D_A"], discriminator_b=f["D_B"]
    )
    loaded = load_model(save_model(model, tmp_path / "pair.safetensors"))
    assert loaded.card.directions() == ["AtoB", "BtoA"]
    assert set(loaded.card.generators) == {"g_ab", "g_ba"} and set(loaded.card.discriminators) == {"d_a", "d_b"}
    assert loaded.card.discriminators["d_b"].gan_mode == "lsgan"
    # The reference's D_A judges G_A's outputs (domain B): it is our d_b.
    for role, ref in (("g_ab", "G_A"), ("g_ba", "G_B"), ("d_b", "D_A"), ("d_a", "D_B")):
        ours, theirs = loaded.nets[role].state_dict(), _ref_state(f[ref])
        assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours), role


def test_export_round_trip_gives_the_reference_files_back(tmp_path: Path) -> None:
    model = load_model(save_model(import_reference(UNET_G, kind="pix2pix", name="p", discriminator=PATCH_D), tmp_path / "p.safetensors"))
    written = export_reference(model, tmp_path / "ref")
    assert [p.name for p in written] == ["latest_net_G.pth", "latest_net_D.pth"]
    for path, original in zip(written, (UNET_G, PATCH_D)):
        got, want = torch.load(path, map_location="cpu", weights_only=True), _ref_state(original)
        assert list(got) == list(want)
        assert all(torch.equal(got[k], want[k]) and got[k].dtype == want[k].dtype for k in want)
        # and the reference's own strict load accepts it (our nets have its exact layout)
        spec = infer_generator_spec(got) if "net_G" in path.name else infer_discriminator_spec(got)
        net = build_generator(spec) if isinstance(spec, GeneratorSpec) else build_discriminator(spec)
        net.load_state_dict(got, strict=True)
    assert not [p for p in (tmp_path / "ref").iterdir() if p.name.startswith(".partial")]


def test_cyclegan_export_names_d_a_after_the_reference(tmp_path: Path) -> None:
    f = _cyclegan_files(tmp_path / "in")
    model = import_reference(
        f["G_A"], kind="cyclegan", name="pair", generator_b=f["G_B"], discriminator=f["D_A"], discriminator_b=f["D_B"]
    )
    written = export_reference(model, tmp_path / "out", prefix="200")
    assert sorted(p.name for p in written) == sorted(f"200_net_{k}.pth" for k in f)
    for k, original in f.items():
        got, want = torch.load(tmp_path / "out" / f"200_net_{k}.pth", weights_only=True), _ref_state(original)
        assert list(got) == list(want) and all(torch.equal(got[n], want[n]) for n in want), k

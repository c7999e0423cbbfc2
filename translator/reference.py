"""Import and export of the reference implementation's checkpoints (`.pth` state dicts).

What: the reference pix2pix/CycleGAN code (junyanz/pytorch-CycleGAN-and-pix2pix) saves plain
`state_dict`s with `torch.save` (`latest_net_G.pth`, `<epoch>_net_D_A.pth`, official pretrained
`<name>.pth`) and records nothing about the architecture. `import_reference` reads such files,
infers the architecture from key names and tensor shapes, repairs the known legacy quirks, loads
the weights with `strict=True` and returns a `Model` with a complete card; `import_to_models` does
that and saves the model in the user models folder, the one import path of `translator import` and
the app's Import…; `export_reference` writes a model back as files the reference's
`load_networks` accepts.

Why here and not in `checkpoint.py`: `.pth` files are pickles. They are only ever opened with
`torch.load(weights_only=True)`, whose unpickler accepts tensors and plain containers and refuses
any other Python object, so nothing inside a file is executed; anything that is not a mapping of
names to tensors is refused with a message naming the file.

Legacy quirks handled (see the reference's `__patch_instance_norm_state_dict`): `module.` prefixes
of DataParallel/DDP saves, BatchNorm without `num_batches_tracked` (PyTorch < 0.4.1), InstanceNorm
`running_mean`/`running_var` entries that current non-tracking InstanceNorm lacks. Generators of
re-implementations with the same network but slightly different naming import too when the mapping
is unambiguous: residual blocks under `block.` instead of `conv_block.`, InstanceNorm with affine
weights (`GeneratorSpec.norm_affine`).

What the weights cannot tell: dropout has no parameters, so a U-Net's dropout is invisible; it is
assumed on (the reference's pix2pix default, used by all official pix2pix models) unless the
caller says otherwise. A ResNet's dropout is visible (it shifts the block's second conv).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from translator._fs import atomic_path
from translator.checkpoint import (MODEL_SUFFIX, Model, ModelCard, check_finite, check_spec_bounds, describe_spec,
                                  empty_net, load_state_dict_checked, save_model, with_card)
from translator.choices import DIRECTIONS, KINDS, Direction, GanMode, Kind, Norm, check_choice
from translator.errors import ArchitectureMismatch, BadName, CheckpointError, TranslatorError
from translator.networks import DiscriminatorSpec, GeneratorSpec
from translator.paths import user_models_dir

log = logging.getLogger(__name__)

# Single-key wrappers some training scripts put around a state dict.
WRAPPER_KEYS: tuple[str, ...] = ("state_dict", "model", "netG", "generator", "G", "netD", "discriminator", "D")
# Reference file suffix per role of our card: `<prefix>_net_<suffix>.pth`. The reference's D_A
# judges G_A's outputs (domain B), so it is our d_b; its D_B is our d_a.
EXPORT_NAMES: dict[str, dict[str, str]] = {
    "pix2pix": {"g": "G", "d": "D"},
    "cyclegan": {"g_ab": "G_A", "g_ba": "G_B", "d_b": "D_A", "d_a": "D_B"},
}
_REFUSED = "refused: the file contains Python objects other than tensors (it could run code); only plain state dicts are accepted"
_SHOW = 4  # how many offending keys a message lists per category

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_RESNET_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.(.+)$")
_ALIAS_BLOCK = re.compile(r"^model\.(\d+)\.block\.(.+)$")
_TOP_WEIGHT = re.compile(r"^model\.(\d+)\.weight$")
_STATS = ("running_mean", "running_var", "num_batches_tracked")


# --------------------------------------------------------------------------------------------
# reading


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a `.pth` state dict, keys without a `module.` prefix.

    Only `torch.load(path, map_location="cpu", weights_only=True)` touches the file. Accepted: a
    mapping of str -> tensor, or one wrapped under a single key of `WRAPPER_KEYS` (other,
    non-dict entries such as `epoch` beside it are ignored). Raises `CheckpointError` naming the
    file for a missing, empty, truncated or corrupt file, a pickle with Python objects other than
    tensors (refused, not executed), anything that is not such a mapping, tensors that declare
    more numbers than the file holds (`_check_held`) and tensors holding NaN or Inf.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        obj: object = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or foreign files
        raise CheckpointError(f"{path}: {load_failure(path, exc)}") from None
    state = _as_state_dict(obj, path)
    _check_held(state, path)
    check_finite(state, source=str(path))
    return state


def load_failure(path: Path, exc: Exception) -> str:
    """What a `torch.load(weights_only=True)` failure means, in a user's terms.

    Never torch's own text when it advises loading with `weights_only=False` "if you trust the
    source": that would run whatever code the file holds, and a file we refuse is not trusted.
    """
    text = str(exc)
    if "Weights only load failed" in text:
        if m := _GLOBAL.search(text):
            return f"{_REFUSED} (it references {m.group(1)})"
        if "Unsupported global" in text:
            return _REFUSED
        return "not a PyTorch checkpoint (unreadable pickle data: random, damaged or another format)"
    if "central directory" in text or "zip archive" in text or isinstance(exc, EOFError):
        return "truncated or corrupt checkpoint (the zip archive is incomplete); download or copy it again"
    if path.suffix == ".safetensors":
        return "a safetensors file, not a .pth checkpoint: open it as a model file instead of importing it"
    first = text.splitlines()[0] if text else ""
    if not first or "weights_only" in first or "trust" in first.lower():
        first = "unreadable"
    return f"not a PyTorch checkpoint ({type(exc).__name__}: {first})"


def _check_held(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Refuse tensors that declare more numbers than the file holds for them.

    `torch.load` materialises only the storages a file holds; a tensor is a view of one. A view
    that repeats its data (`expand`, stride 0) or several keys viewing one storage differently let
    a file of a few KB declare a network of gigabytes, which building and loading would allocate.
    A state dict saved from a network holds each weight in its own storage; keys that are the very
    same view (tied weights) are accepted.
    """
    seen: dict[int, tuple[str, torch.Tensor]] = {}
    for key, t in state.items():
        held = t.untyped_storage().nbytes()
        if t.numel() * t.element_size() > held:
            raise CheckpointError(
                f"{path}: tensor {key} declares {tuple(t.shape)} = {t.numel():,} numbers but the file holds "
                f"{held // t.element_size():,} for it (a view repeating its data); a state dict saved from a "
                "network holds every weight in full, so this file is refused"
            )
        if t.numel() == 0:
            continue
        first, other = seen.setdefault(t.untyped_storage().data_ptr(), (key, t))
        if first != key and (other.dtype, other.storage_offset(), other.shape, other.stride()) != (
            t.dtype, t.storage_offset(), t.shape, t.stride()
        ):
            raise CheckpointError(
                f"{path}: tensors {first} and {key} are different views of the same stored numbers; a state dict "
                "saved from a network holds every weight in its own storage, so this file is refused "
                "(to keep such a file, save it again with each tensor cloned)"
            )


def _as_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: not a state dict (the file holds a {type(obj).__name__}, expected a dict of tensors)")
    if not obj:
        raise CheckpointError(f"{path}: the state dict is empty")
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        wrapped = [k for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)]
        if len(wrapped) > 1:
            raise CheckpointError(
                f"{path}: holds several state dicts ({', '.join(wrapped)}); save each network to its own file"
            )
        if len(wrapped) == 1:
            log.info("%s: using the state dict under %r", path, wrapped[0])
            obj = obj[wrapped[0]]
            assert isinstance(obj, Mapping)
            if not obj:
                raise CheckpointError(f"{path}: the state dict under {wrapped[0]!r} is empty")
    bad = [(k, v) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        shown = ", ".join(f"{k!r} ({type(v).__name__})" for k, v in bad[:_SHOW])
        raise CheckpointError(
            f"{path}: not a state dict of tensors: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} "
            f"{'is' if len(bad) == 1 else 'are'} not a named tensor, e.g. {shown}"
        )
    state: dict[str, torch.Tensor] = {}
    for k, v in obj.items():
        assert isinstance(k, str) and isinstance(v, torch.Tensor)
        key = k.removeprefix("module.")
        if key in state:
            raise CheckpointError(f"{path}: key {key!r} appears both with and without a `module.` prefix")
        state[key] = v
    return state


def _canonical(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys as the reference names them: no `module.` prefix; `model.N.block.*` -> `conv_block`
    (only where that block has no `conv_block` keys already, i.e. unambiguously)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        key = k.removeprefix("module.")
        if key in out:
            raise CheckpointError(f"key {key!r} appears both with and without a `module.` prefix")
        out[key] = v
    with_conv_block = {m.group(1) for k in out if (m := _RESNET_BLOCK.match(k))}
    renamed: dict[str, torch.Tensor] = {}
    for k, v in out.items():
        m = _ALIAS_BLOCK.match(k)
        if m and m.group(1) not in with_conv_block:
            k = f"model.{m.group(1)}.conv_block.{m.group(2)}"
        renamed[k] = v
    return renamed


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    t = state.get(key)
    return None if t is None else tuple(t.shape)


def _key_sample(state: Mapping[str, torch.Tensor], n: int = 5) -> str:
    keys = list(state)
    shown = ", ".join(f"{k} {tuple(state[k].shape)}" for k in keys[:n])
    return shown + (f", … ({len(keys)} keys)" if len(keys) > n else "")


# --------------------------------------------------------------------------------------------
# inference


def _norm_of(state: Mapping[str, torch.Tensor], conv: str, norm: str) -> tuple[Norm, bool]:
    """(norm, affine instance) from a conv that precedes a norm layer: the reference gives that
    conv a bias only for InstanceNorm; BatchNorm has weights/running stats; `none` has neither."""
    if f"{conv}.bias" in state:
        return "instance", f"{norm}.weight" in state
    if f"{norm}.weight" in state or f"{norm}.running_mean" in state:
        return "batch", False
    return "none", False


def infer_generator_spec(state: Mapping[str, torch.Tensor], *, unet_dropout: bool = True) -> GeneratorSpec:
    """The `GeneratorSpec` a reference-layout generator state dict was made with.

    U-Net (`model.model.*`): depth from the nesting of its skip blocks, ngf and channels from the
    outermost convs, norm from conv biases / norm weights. Its dropout has no parameters and cannot
    be seen: `unet_dropout` (default True, the reference pix2pix default that all official pix2pix
    models use) is taken as given. It matters only when the generator runs in training mode
    (the reference's default test mode); `eval()` outputs are the same either way.
    ResNet (`model.N.conv_block.*`): block count, ngf, channels, norm (affine InstanceNorm of
    re-implementations included) and dropout (the block's second conv at index 6 instead of 5).
    Raises `CheckpointError` describing what did not match either layout.
    """
    state = _canonical(state)
    if "model.model.0.weight" in state:
        return _infer_unet(state, unet_dropout)
    if any(_RESNET_BLOCK.match(k) for k in state):
        return _infer_resnet(state)
    hint = ""
    if "model.0.weight" in state or "net.0.weight" in state:
        hint = " It looks like a discriminator (PatchGAN/PixelGAN keys); pass it as the discriminator."
    raise CheckpointError(
        "not a generator of the reference layout: expected a U-Net (`model.model.0.weight`, "
        "`model.model.1.model.…`) or a ResNet (`model.1.weight`, `model.N.conv_block.…`); "
        f"found {_key_sample(state)}.{hint}"
    )


def _infer_unet(state: dict[str, torch.Tensor], dropout: bool) -> GeneratorSpec:
    first = _shape(state, "model.model.0.weight")
    last = _shape(state, "model.model.3.weight")
    if first is None or len(first) != 4 or last is None or len(last) != 4:
        raise CheckpointError(
            "U-Net keys with unexpected shapes: `model.model.0.weight` and `model.model.3.weight` "
            f"must be 4-D convolution kernels, found {first} and {last}"
        )
    # Level k>=1 lives under model.model.1.model.(3.model.)^(k-1); its down conv is `<prefix>1`.
    prefix, downs = "model.model.1.model.", 1
    while f"{prefix}1.weight" in state:
        downs += 1
        prefix += "3.model."
    if downs < 5:
        raise CheckpointError(f"a U-Net with {downs} downsamplings: the reference's U-Net has at least 5 (unet_32)")
    norm, _affine = _norm_of(state, "model.model.1.model.1", "model.model.1.model.2")
    return GeneratorSpec(
        arch=f"unet_{2**downs}",
        base_filters=first[0],
        norm=norm,
        dropout=dropout,
        in_channels=first[1],
        out_channels=last[1],  # ConvTranspose2d weight: (in, out, kh, kw)
    )


def _infer_resnet(state: dict[str, torch.Tensor]) -> GeneratorSpec:
    blocks = sorted({int(m.group(1)) for k in state if (m := _RESNET_BLOCK.match(k))})
    first = _shape(state, "model.1.weight")
    tops = sorted(int(m.group(1)) for k in state if (m := _TOP_WEIGHT.match(k)) and state[k].dim() == 4)
    if first is None or len(first) != 4 or not tops:
        raise CheckpointError(
            f"ResNet blocks without the reference's 7x7 input conv `model.1.weight` (found {_key_sample(state)})"
        )
    last = state[f"model.{tops[-1]}.weight"].shape
    b0 = blocks[0]
    convs = sorted(
        int(m.group(2))
        for k in state
        if (m := _RESNET_BLOCK.match(k)) and int(m.group(1)) == b0 and m.group(3) == "weight" and state[k].dim() == 4
    )
    if convs not in ([1, 5], [1, 6]):
        raise CheckpointError(
            f"residual block model.{b0} has convolutions at {convs}; the reference has them at [1, 5] "
            "(no dropout) or [1, 6] (dropout)"
        )
    norm, affine = _norm_of(state, "model.1", "model.2")
    return GeneratorSpec(
        arch=f"resnet_{len(blocks)}blocks",
        base_filters=first[0],
        norm=norm,
        dropout=convs[1] == 6,
        in_channels=first[1],
        out_channels=int(last[0]),
        norm_affine=affine,
    )


def infer_discriminator_spec(state: Mapping[str, torch.Tensor]) -> DiscriminatorSpec:
    """The `DiscriminatorSpec` of a reference PatchGAN (`model.*`, 4x4 convs; n_layers = convs - 2)
    or PixelGAN (`net.*`, 1x1 convs) state dict: ndf, norm, input channels. `gan_mode` is not in
    the weights and is left at its default. Raises `CheckpointError` when it is neither."""
    state = _canonical(state)
    if (first := _shape(state, "net.0.weight")) is not None and len(first) == 4:
        norm, _ = _norm_of(state, "net.2", "net.3")
        return DiscriminatorSpec("pixel", 3, base_filters=first[0], norm=norm, in_channels=first[1])
    first = _shape(state, "model.0.weight")
    if first is not None and len(first) == 4 and first[2:] == (4, 4) and "model.0.bias" in state:
        n_convs = sum(1 for k in state if _TOP_WEIGHT.match(k) and state[k].dim() == 4)
        if n_convs >= 3:
            norm, _ = _norm_of(state, "model.2", "model.3")
            return DiscriminatorSpec("patch", n_convs - 2, base_filters=first[0], norm=norm, in_channels=first[1])
    hint = ""
    if "model.model.0.weight" in state or any(_RESNET_BLOCK.match(k) for k in state):
        hint = " It looks like a generator; pass it as the generator."
    raise CheckpointError(
        "not a discriminator of the reference layout: expected a PatchGAN (`model.0.weight` 4x4, "
        f"`model.2.weight`, …) or a PixelGAN (`net.0.weight` 1x1); found {_key_sample(state)}.{hint}"
    )


# --------------------------------------------------------------------------------------------
# normalisation


def normalise_state_dict(
    state: Mapping[str, torch.Tensor], spec: GeneratorSpec | DiscriminatorSpec
) -> dict[str, torch.Tensor]:
    """`state` made to fit the network `spec` builds exactly (keys, order, dtypes).

    Repairs: `module.` prefixes and `block.` names (see `_canonical`); adds a missing BatchNorm
    `num_batches_tracked` (0, as PyTorch does for old files); drops InstanceNorm running stats
    (instance specs only; our InstanceNorm, like the reference's, keeps none); floating tensors
    become float32. Raises `ArchitectureMismatch` listing missing keys, unexpected keys and shape
    differences if anything else differs.
    """
    fixed, _notes = _normalise(state, spec)
    return fixed


def _expected_layout(spec: GeneratorSpec | DiscriminatorSpec) -> dict[str, torch.Tensor]:
    # Built on the meta device: shapes and dtypes without allocating or initialising weights.
    return dict(empty_net(spec).state_dict())


def _normalise(
    state: Mapping[str, torch.Tensor], spec: GeneratorSpec | DiscriminatorSpec
) -> tuple[dict[str, torch.Tensor], list[str]]:
    expected = _expected_layout(spec)
    got = _canonical(state)
    notes: list[str] = []
    if len(got) != len(state) or any(k not in got for k in state):
        renamed = sum(1 for k in state if k not in got)
        notes.append(f"renamed {renamed} key(s) (`module.` prefix / `block.` -> `conv_block.`)")

    added = [
        k for k in expected
        if k.endswith(".num_batches_tracked") and k not in got and k.removesuffix("num_batches_tracked") + "running_mean" in got
    ]
    for k in added:
        got[k] = torch.tensor(0, dtype=torch.long)
    if added:
        notes.append(f"added {len(added)} missing BatchNorm num_batches_tracked counter(s) (an old PyTorch save)")

    if spec.norm == "instance":
        stray = [k for k in got if k not in expected and k.rsplit(".", 1)[-1] in _STATS]
        for k in stray:
            del got[k]
        if stray:
            notes.append(f"dropped {len(stray)} InstanceNorm running-statistics entr{'y' if len(stray) == 1 else 'ies'} (an old PyTorch save)")

    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [k for k in expected if k in got and tuple(got[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or shapes:
        raise ArchitectureMismatch(f"weights do not fit {describe_spec(spec)}: {_list_mismatch(expected, got, missing, unexpected, shapes)}")

    fixed: dict[str, torch.Tensor] = {}
    for k, ref in expected.items():
        t = got[k]
        if ref.dtype.is_floating_point and t.is_floating_point():
            t = t.to(torch.float32)
        elif not ref.dtype.is_floating_point:
            t = t.to(ref.dtype)
        fixed[k] = t
    for note in notes:
        log.info("%s", note)
    return fixed, notes


def _list_mismatch(
    expected: Mapping[str, torch.Tensor],
    got: Mapping[str, torch.Tensor],
    missing: list[str],
    unexpected: list[str],
    shapes: list[str],
) -> str:
    def few(keys: list[str]) -> str:
        return ", ".join(keys[:_SHOW]) + (f", … ({len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")

    parts: list[str] = []
    if missing:
        parts.append(f"{len(missing)} key(s) missing: {few(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): {few(unexpected)}")
    if shapes:
        shown = ", ".join(f"{k} file {tuple(got[k].shape)} vs {tuple(expected[k].shape)}" for k in shapes[:_SHOW])
        parts.append(f"{len(shapes)} shape(s) differ: {shown}")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# import


S = TypeVar("S", GeneratorSpec, DiscriminatorSpec)


def _load_net(path: Path, infer: Callable[[dict[str, torch.Tensor]], S]) -> tuple[S, nn.Module, list[str]]:
    """Read a reference checkpoint, infer its spec, repair legacy quirks, load it strictly.

    Nothing is allocated for the network before its spec is within `check_spec_bounds` and the
    file's tensors (each backed by numbers the file holds, see `_check_held`) match it exactly.
    """
    state = read_state_dict(path)
    try:
        spec = infer(state)
    except CheckpointError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    check_spec_bounds(spec, source=str(path))
    try:
        fixed, notes = _normalise(state, spec)
    except CheckpointError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    net = empty_net(spec)
    load_state_dict_checked(net, fixed, spec, source=str(path))
    log.info("%s: %s", path, describe_spec(spec))
    return spec, net, [f"{path.name}: {n}" for n in notes]


def import_reference(
    generator: Path,
    *,
    kind: Kind,
    name: str,
    direction: Direction = "AtoB",
    generator_b: Path | None = None,
    discriminator: Path | None = None,
    discriminator_b: Path | None = None,
    task: str = "",
    gan_mode: GanMode | None = None,
    image_size: int = 256,
    unet_dropout: bool = True,
) -> Model:
    """A `Model` (complete card, weights loaded with `strict=True`) from reference checkpoints.

    `direction` is the way `generator` maps. pix2pix: `generator` is the card's `g`,
    `discriminator` its `d` (it must take in + out channels). CycleGAN: `generator` is `g_ab`
    (`direction` AtoB: the reference's G_A) or `g_ba` (BtoA); `generator_b`, if given, is the
    reverse map. `discriminator` judges `generator`'s outputs, `discriminator_b` those of
    `generator_b` — which is the reference's naming: its D_A judges G_A's outputs (domain B images)
    and becomes our `d_b`; its D_B becomes our `d_a`. A single generator gives a one-direction model.

    `gan_mode` (None: the reference default, vanilla for pix2pix, lsgan for CycleGAN) and
    `image_size` (the training crop) are not in the weights and go to the card as given;
    `unet_dropout` likewise (see `infer_generator_spec`). Raises `CheckpointError` (or its
    `ArchitectureMismatch`) naming the file at fault.
    """
    check_choice("kind", kind, KINDS)
    check_choice("direction", direction, DIRECTIONS)
    if not name.strip():
        raise ValueError("a model needs a name")
    if kind == "pix2pix" and (generator_b is not None or discriminator_b is not None):
        raise ValueError("a pix2pix model has one generator and one discriminator; generator_b/discriminator_b are for CycleGAN pairs")
    mode: GanMode = gan_mode if gan_mode is not None else ("vanilla" if kind == "pix2pix" else "lsgan")

    generators: dict[str, GeneratorSpec] = {}
    discriminators: dict[str, DiscriminatorSpec] = {}
    nets: dict[str, nn.Module] = {}
    notes: list[str] = []
    files = [Path(p) for p in (generator, generator_b, discriminator, discriminator_b) if p is not None]

    if kind == "pix2pix":
        g_role, g_b_role, d_role, d_b_role = "g", "", "d", ""
    elif direction == "AtoB":
        g_role, g_b_role, d_role, d_b_role = "g_ab", "g_ba", "d_b", "d_a"
    else:
        g_role, g_b_role, d_role, d_b_role = "g_ba", "g_ab", "d_a", "d_b"

    for role, gpath in ((g_role, generator), (g_b_role, generator_b)):
        if gpath is not None:
            spec, net, n = _load_net(Path(gpath), lambda st: infer_generator_spec(st, unet_dropout=unet_dropout))
            generators[role], nets[role] = spec, net
            notes += n
    for role, dpath in ((d_role, discriminator), (d_b_role, discriminator_b)):
        if dpath is not None:
            dspec, dnet, n = _load_net(Path(dpath), lambda st: dataclasses.replace(infer_discriminator_spec(st), gan_mode=mode))
            _check_discriminator_channels(kind, role, dspec, generators, Path(dpath))
            discriminators[role], nets[role] = dspec, dnet
            notes += n
    if any(s.family == "unet" and s.dropout for s in generators.values()):
        notes.append("U-Net dropout is not visible in the weights; assumed on (the reference pix2pix default)")

    order = ("g", "g_ab", "g_ba", "d", "d_a", "d_b")
    card = ModelCard(
        name=name,
        kind=kind,
        generators={r: generators[r] for r in order if r in generators},
        discriminators={r: discriminators[r] for r in order if r in discriminators},
        direction=direction,
        task=task,
        image_size=image_size,
        source=f"imported from {', '.join(p.name for p in files)} (reference implementation)",
        notes="; ".join(notes),
    )
    log.info("imported %s (%s, %s)", name, kind, ", ".join(card.generators))
    return Model(card, {r: nets[r] for r in order if r in nets})


def _check_discriminator_channels(
    kind: str, role: str, spec: DiscriminatorSpec, generators: Mapping[str, GeneratorSpec], path: Path
) -> None:
    """A discriminator must take what it will be shown: pix2pix cat(input, output); CycleGAN one
    domain's images."""
    if kind == "pix2pix":
        g = generators.get("g")
        if g is not None and spec.in_channels != g.in_channels + g.out_channels:
            raise ArchitectureMismatch(
                f"{path}: the discriminator takes {spec.in_channels} input channels, but a pix2pix "
                f"discriminator judges cat(input, output) = {g.in_channels + g.out_channels} channels"
                + (" (a CycleGAN discriminator? import with kind cyclegan)" if spec.in_channels == g.out_channels else "")
            )
        return
    # d_b judges domain B: g_ab's outputs, g_ba's inputs; d_a the other way round.
    want = {
        ("d_b", "g_ab"): "out_channels", ("d_b", "g_ba"): "in_channels",
        ("d_a", "g_ab"): "in_channels", ("d_a", "g_ba"): "out_channels",
    }
    for g_role, g in generators.items():
        channels: int = getattr(g, want[(role, g_role)])
        if spec.in_channels != channels:
            raise ArchitectureMismatch(
                f"{path}: the discriminator takes {spec.in_channels} input channels, but the domain it "
                f"judges has {channels} (from the {g_role} generator)"
                + (" (a pix2pix discriminator? import with kind pix2pix)" if spec.in_channels == g.in_channels + g.out_channels else "")
            )


# --------------------------------------------------------------------------------------------
# into the user models folder


class ModelExists(TranslatorError):
    """An import would replace an existing model file; the caller asks (the app) or refuses (the CLI
    without --force), then passes `overwrite=True` to replace it."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists")
        self.path = path


# `<epoch>_net_<role>`, as the reference's `save_networks` names files: epoch `latest`, a number
# or `iter_<n>`; role G or D, with _A/_B for CycleGAN.
_EPOCH = r"(?:latest|\d+|iter_\d+)"
_EPOCH_PREFIX = re.compile(rf"^{_EPOCH}_", re.IGNORECASE)
_ONLY_EPOCH = re.compile(rf"^{_EPOCH}$", re.IGNORECASE)
_NET_SUFFIX = re.compile(r"(?:^|_)net_?(?P<role>[GD])(?:_(?P<side>[AB]))?$")
_PRETRAINED = re.compile(r"_pretrained$")  # the reference's download scripts' checkpoints/<name>_pretrained/


def default_model_name(checkpoint: Path) -> str:
    """The model name a reference checkpoint suggests: its file name without the epoch prefix
    (`latest_`, `200_`), the `net_G`/`net_D_A` role and `.pth`, or, when nothing else is left, its
    folder's name (without `_pretrained`).

    `horse2zebra/latest_net_G_A.pth` -> `horse2zebra`; `facades_label2photo_net_G.pth` ->
    `facades_label2photo`; `checkpoints/sat2map_pretrained/latest_net_G.pth` -> `sat2map`.
    """
    path = Path(checkpoint)
    stem = _NET_SUFFIX.sub("", path.stem)
    stem = _EPOCH_PREFIX.sub("", stem).strip(" _-.")
    if stem and not _ONLY_EPOCH.match(stem):
        return stem
    folder = _PRETRAINED.sub("", path.resolve().parent.name).strip(" _-.")
    return folder or "imported"


def split_reference_files(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(generators, discriminators) among chosen checkpoint files, told apart by the reference's
    names (`*_net_D*.pth` is a discriminator, anything else a generator), each in A, B order."""

    def side(p: Path) -> str:
        m = _NET_SUFFIX.search(Path(p).stem)
        return (m.group("side") or "") if m else ""

    generators: list[Path] = []
    discriminators: list[Path] = []
    for p in paths:
        m = _NET_SUFFIX.search(Path(p).stem)
        (discriminators if m and m.group("role") == "D" else generators).append(Path(p))
    return sorted(generators, key=side), sorted(discriminators, key=side)


MAX_NAME_LENGTH = 100
_NAME_RULE = (f"use one plain file name of at most {MAX_NAME_LENGTH} printable characters, without / \\ : "
              "or a leading dot")


def check_model_name(name: str) -> str:
    """`name` without surrounding spaces, if it can be a model's file name: one path component of
    at most `MAX_NAME_LENGTH` printable characters, no `/ \\ :`, no leading dot (so no `.` or `..`),
    no control characters (a newline, NUL, an escape sequence). Else `BadName` (a `TranslatorError`
    and a `ValueError`) naming the value and what is allowed. Every name that becomes a model file
    passes here: `model_file`, `import_to_models`, the zoo's `model_path`; `translator zoo get
    --name` can check with it too."""
    plain = name.strip()
    if not plain:
        raise BadName(f"model name {name!r}: a model needs a name; {_NAME_RULE}")
    if (len(plain) > MAX_NAME_LENGTH or plain.startswith(".") or any(c in plain for c in "/\\:")
            or not plain.isprintable()):
        raise BadName(f"model name {name!r}: {_NAME_RULE}")
    return plain


def model_file(name: str) -> Path:
    """Where a model called `name` lives in the user models folder; `BadName` unless the name
    passes `check_model_name`."""
    return user_models_dir() / f"{check_model_name(name)}{MODEL_SUFFIX}"


def import_to_models(
    generators: Sequence[Path],
    *,
    kind: Kind,
    name: str,
    discriminators: Sequence[Path] = (),
    direction: Direction = "AtoB",
    task: str = "",
    gan_mode: GanMode | None = None,
    unet_dropout: bool = True,
    output: Path | None = None,
    overwrite: bool = False,
    card_changes: Mapping[str, Any] | None = None,
) -> Path:
    """Import reference checkpoints (see `import_reference`) and save the model; return its path.

    Every import goes through here: `translator import`, the app's Import… and `zoo get` (which
    adds what its catalogue knows to the card through `card_changes`, e.g. the source URL).

    `generators`: one, or for a CycleGAN pair G_A then G_B; `discriminators` likewise (optional:
    the realness readout and fine-tuning need them). The file is `output`, by default `name` in the
    user models folder (`model_file`); `name` must pass `check_model_name` either way (it is shown
    as the model's name). An existing file is never replaced silently: `ModelExists`
    unless `overwrite`; the check runs before the (slow) import and again just before the write,
    which is atomic (`save_model`), so a reader never sees half a model.
    """
    if not 1 <= len(generators) <= 2 or (len(generators) == 2 and kind != "cyclegan"):
        raise ValueError("give one generator, or two (G_A then G_B) for a CycleGAN pair")
    if len(discriminators) > 2 or (len(discriminators) == 2 and kind != "cyclegan"):
        raise ValueError("give at most one discriminator, or two (D_A then D_B) for a CycleGAN pair")
    name = check_model_name(name)
    out = Path(output) if output is not None else model_file(name)
    if out.exists() and not overwrite:
        raise ModelExists(out)
    model = import_reference(
        Path(generators[0]),
        kind=kind,
        name=name,
        direction=direction,
        generator_b=Path(generators[1]) if len(generators) == 2 else None,
        discriminator=Path(discriminators[0]) if discriminators else None,
        discriminator_b=Path(discriminators[1]) if len(discriminators) == 2 else None,
        task=task,
        gan_mode=gan_mode,
        unet_dropout=unet_dropout,
    )
    if card_changes:
        model = with_card(model, **card_changes)
    if out.exists() and not overwrite:  # appeared while the files were read
        raise ModelExists(out)
    save_model(model, out)
    log.info("imported %s (%s, %s) -> %s", model.card.name, kind, ", ".join(model.nets), out)
    return out


# --------------------------------------------------------------------------------------------
# export


def export_reference(model: Model, out_dir: Path, prefix: str | None = None, *, overwrite: bool = False) -> list[Path]:
    """Write `model`'s nets as reference checkpoints in `out_dir`; return the paths written.

    pix2pix: `<prefix>_net_G.pth` (+ `_net_D.pth`); CycleGAN: `_net_G_A.pth` (g_ab),
    `_net_G_B.pth` (g_ba), `_net_D_A.pth` (our d_b: the reference's D_A judges domain B),
    `_net_D_B.pth` (d_a); each only for the nets the model has. `prefix` defaults to `latest`,
    what the reference's `--epoch` loads by default. Files are plain float32 state dicts with the
    reference's keys, written atomically with `torch.save`.

    The reference's `--netG` only offers unet_128/256 and resnet_6/9blocks; other depths load
    into its `UnetGenerator`/`ResnetGenerator` constructed directly (a warning is logged).
    Models with affine InstanceNorm (`norm_affine`, from re-implementations) or an input skip (the
    tool's own layer) cannot be loaded by the reference at all and raise `CheckpointError` before
    anything is written. An existing file among the targets raises `TranslatorError` naming it,
    also before anything is written, unless `overwrite`.
    """
    prefix = "latest" if prefix is None else prefix
    if not prefix or any(c in prefix for c in "/\\") or prefix in (".", ".."):
        raise ValueError(f"export prefix {prefix!r}: use a plain name such as latest or 200")
    names = EXPORT_NAMES[model.card.kind]
    for role, gspec in model.card.generators.items():
        if gspec.norm_affine:
            raise CheckpointError(
                f"{model.card.name}: generator {role} uses InstanceNorm with affine weights (a "
                "re-implementation's variant); the reference implementation cannot load it, so it is not exported"
            )
        if gspec.input_skip:
            raise CheckpointError(
                f"{model.card.name}: generator {role} adds its input to its output (the tool's input skip); "
                "the reference implementation has no such layer, so it is not exported"
            )
        if gspec.arch not in ("unet_128", "unet_256", "resnet_6blocks", "resnet_9blocks"):
            log.warning(
                "%s: %s is not one of the reference's --netG choices; build its network directly to load the file",
                model.card.name, gspec.arch,
            )
    targets = {role: Path(out_dir) / f"{prefix}_net_{suffix}.pth" for role, suffix in names.items() if role in model.nets}
    existing = [p for p in targets.values() if os.path.lexists(p)]
    if existing and not overwrite:
        raise TranslatorError(
            f"{', '.join(map(str, existing))} already exist{'s' if len(existing) == 1 else ''}: pass --overwrite "
            f"to replace {'it' if len(existing) == 1 else 'them'}, or export with another --prefix or folder"
        )
    written: list[Path] = []
    for role, dst in targets.items():
        net = model.nets[role]
        with atomic_path(dst) as tmp:
            torch.save(_plain_state_dict(net), tmp)
        log.info("exported %s %s -> %s", model.card.name, role, dst)
        written.append(dst)
    return written


def _plain_state_dict(net: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """What `net.cpu().state_dict()` gives in the reference: an OrderedDict of float32 CPU tensors
    (and its `_metadata` of module versions, which `load_state_dict` reads)."""
    sd = net.state_dict()
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for k, t in sd.items():
        t = t.detach().to("cpu")
        out[k] = (t.to(torch.float32) if t.is_floating_point() else t).clone().contiguous()
    meta = getattr(sd, "_metadata", None)
    if meta is not None:
        setattr(out, "_metadata", meta)  # noqa: B010 - an attribute OrderedDict has no slot for
    return out

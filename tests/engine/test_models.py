"""What a pix2pix or CycleGAN model is: typed networks that round-trip the model file's roles,
paper defaults, and step functions that return their losses — run on real photos, with real
optimisers, as the training loop runs them."""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from translator.checkpoint import ModelCard, build_model
from translator.choices import GanMode
from translator.models import (
    CycleGan,
    Pix2Pix,
    StepTools,
    TrainingDiverged,
    cyclegan_step,
    model_type,
    pix2pix_step,
)
from translator.networks import DiscriminatorSpec, GeneratorSpec
from translator.training import TrainConfig
from translator.training_parts import GanLoss, ImagePool


def _batch(photos: dict[str, np.ndarray], names: tuple[str, ...], offset: int = 0) -> torch.Tensor:
    """32×32 crops of real photos as an (N, 3, 32, 32) batch in [-1, 1]."""
    crops = [photos[n][offset : offset + 128 : 4, offset : offset + 128 : 4] for n in names]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _tools(nets: Pix2Pix | CycleGan, mode: GanMode = "vanilla", d_steps: int = 1) -> StepTools:
    """What the loop lends a step, with plain Adam optimisers over each side's networks."""
    def update(opt: torch.optim.Optimizer) -> Callable[[torch.Tensor], None]:
        def step(loss: torch.Tensor) -> None:
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        return step

    opt_g = torch.optim.Adam([p for n in nets.generators().values() for p in n.parameters()], lr=1e-3)
    opt_d = torch.optim.Adam([p for n in nets.discriminators().values() for p in n.parameters()], lr=1e-3)
    return StepTools(GanLoss(mode), contextlib.nullcontext, list, update(opt_d), update(opt_g), d_steps)


def _pix2pix() -> Pix2Pix:
    card = ModelCard("p", "pix2pix", {"g": GeneratorSpec("unet_32", 8)}, {"d": DiscriminatorSpec("patch", 2, 8, "batch", 6)})
    return Pix2Pix.from_nets(build_model(card, seed=0).nets)


def _cyclegan() -> CycleGan:
    g, d = GeneratorSpec("resnet_2blocks", 8, "instance", False), DiscriminatorSpec("patch", 2, 8, "instance", 3, "lsgan")
    card = ModelCard("c", "cyclegan", {"g_ab": g, "g_ba": g}, {"d_a": d, "d_b": d})
    return CycleGan.from_nets(build_model(card, seed=0).nets)


def _weights(nets: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """The parameters (not the BatchNorm statistics, which every forward pass in training updates)."""
    return {f"{role}.{k}": v.detach().clone() for role, net in nets.items() for k, v in net.named_parameters()}


def _changed(before: dict[str, torch.Tensor], nets: dict[str, nn.Module]) -> set[str]:
    """The networks (roles) with a parameter that differs from `before`."""
    return {key.split(".")[0] for key, v in _weights(nets).items() if not torch.equal(v, before[key])}


def test_networks_round_trip_the_model_file_roles() -> None:
    for kind, roles in (("pix2pix", ["g", "d"]), ("cyclegan", ["g_ab", "g_ba", "d_a", "d_b"])):
        cls = model_type(kind)  # type: ignore[arg-type]
        gens = {r: GeneratorSpec("unet_32", 8) for r in cls.generator_roles}
        discs = {r: DiscriminatorSpec("patch", 2, 8, "batch", cls.paper.d_in_channels) for r in cls.discriminator_roles}
        model = build_model(ModelCard("m", kind, gens, discs), seed=0)  # type: ignore[arg-type]
        nets = cls.from_nets(model.nets)
        assert list(nets.to_nets()) == roles
        assert all(nets.to_nets()[r] is model.nets[r] for r in roles)
        assert [*nets.generators(), *nets.discriminators()] == roles
    with pytest.raises(ValueError, match="pix2pix or cyclegan"):
        model_type("stylegan")  # type: ignore[arg-type]


def test_training_defaults_are_each_paper_s() -> None:
    p2p = TrainConfig("pix2pix", data=".", out="run")  # type: ignore[arg-type]
    cyc = TrainConfig("cyclegan", data=".", out="run")  # type: ignore[arg-type]
    assert p2p.generator_spec() == GeneratorSpec("unet_256", 64, "batch", True)
    assert cyc.generator_spec() == GeneratorSpec("resnet_9blocks", 64, "instance", False)
    assert (p2p.resolved_gan_mode, cyc.resolved_gan_mode) == ("vanilla", "lsgan")


@pytest.mark.parametrize("field, value", [("norm", "layer"), ("gan_mode", "wgan"), ("precision", "fp8"), ("kind", "gan")])
def test_config_checks_list_the_choices(field: str, value: str) -> None:
    kind = value if field == "kind" else "pix2pix"
    with pytest.raises(ValueError, match=f"{field} must be one of"):
        TrainConfig(kind, data=".", out="run", **({} if field == "kind" else {field: value}))  # type: ignore[arg-type]


def test_pix2pix_step_trains_d_then_g_and_returns_its_losses(photos: dict[str, np.ndarray]) -> None:
    nets = _pix2pix()
    a = _batch(photos, ("astronaut", "chelsea"))
    b = -a.flip(1)  # a fixed colour transform: the target side
    before = _weights(nets.to_nets())
    warm = pix2pix_step(nets, a, b, _tools(nets), lambda_l1=100.0, train_g=False)
    assert _changed(before, nets.to_nets()) == {"d"}  # a warm-up step leaves G alone
    assert warm.losses.named().keys() == {"D"} and warm.losses.g_l1 is None
    result = pix2pix_step(nets, a, b, _tools(nets), lambda_l1=100.0)
    assert _changed(before, nets.to_nets()) == {"g", "d"}
    losses = result.losses
    assert list(losses.named()) == ["D", "G_GAN", "G_L1"]
    with torch.no_grad():  # λ·L1 to the target, of the G that just stepped (so only roughly)
        assert losses.g_l1 is not None and losses.g_l1 == pytest.approx(100 * float((nets.g(a) - b).abs().mean()), rel=0.2)
    assert 0 <= result.d_acc_real <= 1 and 0 <= result.d_acc_fake <= 1
    assert result.real_logits.shape[0] == 2 and not result.real_logits.requires_grad


def test_cyclegan_step_names_each_net_by_direction(photos: dict[str, np.ndarray]) -> None:
    nets = _cyclegan()
    a = _batch(photos, ("astronaut",))
    b = _batch(photos, ("coffee",), offset=64)
    d_a, d_b = copy.deepcopy(nets.d_a), copy.deepcopy(nets.d_b)
    result = cyclegan_step(nets, a, b, _tools(nets, "lsgan"), pool_a=ImagePool(0), pool_b=ImagePool(0), lambda_cycle=10.0,
                           lambda_identity=0.5)
    # D's verdict on the real images: d_a's on domain A first, then d_b's on B (D frozen in the G
    # update, so these are the verdicts of the starting discriminators).
    with torch.no_grad():
        want = torch.cat([d_a(a).flatten(), d_b(b).flatten()])
    assert torch.allclose(result.real_logits, want, atol=1e-5)
    g = result.losses.g
    assert g is not None and g.identity_a is not None
    assert list(result.losses.named()) == ["idt_A", "idt_B", "G_AB", "G_BA", "cycle_A", "cycle_B", "D_B", "D_A"]
    # the losses are the step's: the cycle term of A is λ·L1(g_ba(g_ab(A)), A) for the G that stepped on
    with torch.no_grad():
        assert g.cycle_a > 0 and g.identity_a == pytest.approx(0.5 * float((nets.g_ba(a) - a).abs().mean()) * 10, rel=0.3)
    no_identity = cyclegan_step(nets, a, b, _tools(nets, "lsgan"), pool_a=ImagePool(0), pool_b=ImagePool(0), lambda_cycle=10.0,
                                lambda_identity=0.0)
    assert no_identity.losses.g is not None and no_identity.losses.g.identity_a is None
    assert "idt_A" not in no_identity.losses.named()


def test_cyclegan_warm_up_trains_only_the_discriminators(photos: dict[str, np.ndarray]) -> None:
    nets = _cyclegan()
    a, b = _batch(photos, ("astronaut",)), _batch(photos, ("chelsea",))
    before = _weights(nets.to_nets())
    result = cyclegan_step(nets, a, b, _tools(nets, "wgangp", d_steps=2), pool_a=ImagePool(2), pool_b=ImagePool(2),
                           lambda_cycle=10.0, lambda_identity=0.5, train_g=False)
    assert _changed(before, nets.to_nets()) == {"d_a", "d_b"}
    assert result.losses.g is None and list(result.losses.named()) == ["D_B", "D_A"]


def test_a_diverging_loss_stops_the_step_before_any_update(photos: dict[str, np.ndarray]) -> None:
    nets = _pix2pix()
    a = _batch(photos, ("astronaut", "coffee"))
    pix2pix_step(nets, a, a, _tools(nets), lambda_l1=100.0, train_g=False)
    g_before = _weights({"g": nets.g})
    with pytest.raises(TrainingDiverged, match="the loss G_L1 became inf .* lower the learning rate"):
        pix2pix_step(nets, a, -a, _tools(nets), lambda_l1=1e39)
    assert not _changed(g_before, {"g": nets.g})

"""The fine-tuning loop's building blocks: losses against their formulas, the image pool, the EMA,
ADA's gauge and augmentation, the learning-rate policy — each with an exact state round trip."""
from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from translator.training_parts import (
    AdaptiveAugment,
    Ema,
    GanLoss,
    ImagePool,
    RealnessTracker,
    d_accuracy,
    gradient_penalty,
    linear_decay_lambda,
)


def _roundtrip(state: dict) -> dict:
    """What a checkpoint gives back: saved and loaded with the safe unpickler."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# ---------------------------------------------------------------- losses

BIG = 50.0


def test_vanilla_losses_match_bce_formula() -> None:
    loss = GanLoss("vanilla")
    real, fake = torch.full((2, 1, 3, 3), BIG), torch.full((2, 1, 3, 3), -BIG)
    assert loss.d_loss(real, fake).item() == pytest.approx(0.0, abs=1e-6)
    zeros = torch.zeros(2, 1, 3, 3)
    # at logit 0 each BCE is ln 2; D's loss is their mean (the reference's 0.5 factor), not their sum
    assert loss.d_loss(zeros, zeros).item() == pytest.approx(math.log(2))
    assert loss.g_loss(zeros).item() == pytest.approx(math.log(2))
    assert loss.g_loss(torch.full((4,), BIG)).item() == pytest.approx(0.0, abs=1e-6)
    x = torch.tensor([1.5, -0.3])
    assert loss.g_loss(x).item() == pytest.approx(torch.log1p(torch.exp(-x)).mean().item())


def test_lsgan_losses_match_mse_formula() -> None:
    loss = GanLoss("lsgan")
    ones, zeros = torch.ones(3, 1, 4, 4), torch.zeros(3, 1, 4, 4)
    assert loss.g_loss(ones).item() == 0.0
    assert loss.d_loss(ones, zeros).item() == 0.0
    # real 0 (error 1) and fake 1 (error 1): 0.5 * (1 + 1)
    assert loss.d_loss(zeros, ones).item() == pytest.approx(1.0)
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([0.2, -1.0])
    want = 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    assert loss.d_loss(real, fake).item() == pytest.approx(want.item())
    assert loss.g_loss(fake).item() == pytest.approx(((fake - 1) ** 2).mean().item())


def test_hinge_and_wgangp_losses() -> None:
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.0])
    hinge = GanLoss("hinge")
    # relu(1 - real) = [0, 0.5, 2] -> 2.5/3; relu(1 + fake) = [0, 1, 2] -> 1
    assert hinge.d_loss(real, fake).item() == pytest.approx(2.5 / 3 + 1.0)
    assert hinge.g_loss(fake).item() == pytest.approx(1.0 / 3)
    wgan = GanLoss("wgangp")
    assert wgan.d_loss(real, fake).item() == pytest.approx(fake.mean().item() - real.mean().item())
    assert wgan.g_loss(fake).item() == pytest.approx(-fake.mean().item())


def test_unknown_gan_mode_lists_choices() -> None:
    with pytest.raises(ValueError, match="vanilla, lsgan, wgangp, hinge"):
        GanLoss("wgan")  # type: ignore[arg-type]


def _linear_critic(scale: float) -> nn.Module:
    """D(x) = scale · <w, x> with ‖w‖ = 1: its input gradient has norm `scale` everywhere."""
    torch.manual_seed(0)
    lin = nn.Linear(3 * 4 * 4, 1, bias=True)
    with torch.no_grad():
        lin.weight.div_(lin.weight.norm()).mul_(scale)
    return nn.Sequential(nn.Flatten(), lin)


def test_gradient_penalty_zero_for_unit_gradient_and_positive_otherwise() -> None:
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gen = torch.Generator().manual_seed(1)
    assert gradient_penalty(_linear_critic(1.0), real, fake, generator=gen).item() == pytest.approx(0.0, abs=1e-6)
    # gradient norm 3 -> 10 * (3 - 1)^2
    assert gradient_penalty(_linear_critic(3.0), real, fake).item() == pytest.approx(40.0, rel=1e-5)
    assert gradient_penalty(_linear_critic(3.0), real, fake, weight=1.0).item() == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_trains_d_only_and_is_reproducible() -> None:
    d = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3))  # nonlinear: α matters
    real = torch.randn(3, 3, 6, 6)
    fake = torch.randn(3, 3, 6, 6, requires_grad=True)
    a = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(7))
    b = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(7))
    c = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(8))
    assert a.item() == b.item() != c.item()
    a.backward()
    assert fake.grad is None  # fakes are detached: the penalty does not reach G
    # every weight gets a gradient (the last bias cannot: it does not change D's input gradient)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters() if p.dim() > 1)


def test_d_accuracy_thresholds() -> None:
    real = torch.tensor([1.0, 2.0, -1.0, 0.3])  # 3 of 4 > 0, 2 of 4 > 0.5
    fake = torch.tensor([-1.0, 0.4, 0.6, 2.0])  # 1 of 4 <= 0, 2 of 4 <= 0.5
    assert d_accuracy(real, fake, "vanilla") == (0.75, 0.25)
    assert d_accuracy(real, fake, "hinge") == (0.75, 0.25)
    assert d_accuracy(real, fake, "lsgan") == (0.5, 0.5)


# ---------------------------------------------------------------- image pool


def _batches(n: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 4, 4, generator=g) for _ in range(n)]


def test_pool_size_zero_passes_through() -> None:
    x = torch.randn(3, 3, 4, 4)
    assert ImagePool(0).query(x) is x


def test_pool_fills_first_then_mixes_old_and_new() -> None:
    pool = ImagePool(4, seed=0)
    batches = _batches(30)
    seen = torch.cat(batches[:2])
    assert torch.equal(pool.query(batches[0]), batches[0])  # filling: passed through
    assert torch.equal(pool.query(batches[1]), batches[1])
    assert len(pool) == 4
    new = old = 0
    for b in batches[2:]:
        out = pool.query(b)
        for i in range(b.shape[0]):
            if torch.equal(out[i], b[i]):
                new += 1
            else:  # an image stored earlier (perhaps earlier in this very batch)
                assert any(torch.equal(out[i], s) for s in seen)
                old += 1
            seen = torch.cat([seen, b[i : i + 1]])
    assert new > 10 and old > 10  # about half each (56 images)


def test_pool_reproducible_and_resumes_exactly() -> None:
    batches = _batches(20)
    a, b = ImagePool(5, seed=3), ImagePool(5, seed=3)
    for x in batches[:8]:
        assert torch.equal(a.query(x), b.query(x))
    state = _roundtrip(a.state_dict())
    resumed = ImagePool(5, seed=99)
    resumed.load_state_dict(state)
    for x in batches[8:]:
        assert torch.equal(a.query(x), resumed.query(x))
    other = ImagePool(5, seed=4)
    assert not all(torch.equal(other.query(x), y) for x, y in zip(batches, [ImagePool(5, 3).query(x) for x in batches]))


def test_pool_rejects_other_shapes_and_sizes() -> None:
    pool = ImagePool(2)
    pool.query(torch.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match="one size"):
        pool.query(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="holds 3"):
        ImagePool(3).load_state_dict(pool.state_dict())


# ---------------------------------------------------------------- EMA


class _Scalar(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(0))


def test_ema_is_the_analytic_average_without_warmup() -> None:
    net = _Scalar()
    ema = Ema(net, decay=0.9, warmup=False)
    want = 0.0
    for v in [1.0, 2.0, -3.0, 4.0]:
        net.w.data.fill_(v)
        net.count += 1
        ema.update(net)
        want = 0.9 * want + 0.1 * v
    assert ema.module.w.item() == pytest.approx(want)
    assert ema.module.count.item() == 4  # buffers copied, not averaged
    assert not ema.module.training and not ema.module.w.requires_grad
    assert net.w.requires_grad  # the live net is untouched


def test_ema_warmup_follows_documented_decay() -> None:
    net = _Scalar()
    ema = Ema(net, decay=0.5)
    assert ema.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    net.w.data.fill_(10.0)
    ema.update(net)
    assert ema.module.w.item() == pytest.approx(9.0)  # 0.1 * 0 + 0.9 * 10
    assert ema.current_decay() == pytest.approx(2 / 11)
    for _ in range(20):
        ema.update(net)
    assert ema.current_decay() == 0.5  # capped by the configured decay


def test_ema_copies_batchnorm_stats_and_resumes_exactly() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step() -> None:
        opt.zero_grad()
        net(torch.randn(2, 3, 5, 5)).square().mean().backward()
        opt.step()

    ema = Ema(net, decay=0.99)
    for _ in range(3):
        step()
        ema.update(net)
    bn = ema.module[1]
    assert torch.equal(bn.running_mean, net[1].running_mean) and bn.num_batches_tracked.item() == 3
    state = _roundtrip(ema.state_dict())
    resumed = Ema(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), decay=0.99)
    resumed.load_state_dict(state)
    for _ in range(3):
        step()
        ema.update(net)
        resumed.update(net)
    for a, b in zip(ema.module.state_dict().values(), resumed.module.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.num_updates == 6


def test_ema_measures_batchnorm_stats_for_its_own_weights() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))
    ema = Ema(net, decay=0.5)
    with torch.no_grad():
        for _ in range(4):  # the live net moves on: new weights and statistics
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net(torch.randn(2, 3, 6, 6) * 3 + 1)
            ema.update(net)
    assert torch.equal(ema.module[1].running_var, net[1].running_var)  # copied from the live net
    batches = [torch.randn(2, 3, 6, 6) * 2 - 1 for _ in range(3)]
    rng = torch.get_rng_state()
    ema.measure_norm_stats(iter(batches))
    assert torch.equal(torch.get_rng_state(), rng)  # the dropout's draws came from a fork
    # The first layer's statistics: the plain mean over the batches of each batch's statistics
    # of the average's own convolution (no dropout before it, so exact).
    with torch.no_grad():
        conv = [ema.module[0](x) for x in batches]
    bn = ema.module[1]
    assert torch.allclose(bn.running_mean, torch.stack([c.mean((0, 2, 3)) for c in conv]).mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, torch.stack([c.var((0, 2, 3)) for c in conv]).mean(0), atol=1e-5)
    assert not torch.allclose(bn.running_mean, net[1].running_mean, atol=1e-2)
    assert bn.num_batches_tracked.item() == 3 and ema.module[4].num_batches_tracked.item() == 3
    assert bn.momentum == 0.1 and ema.module[4].momentum == 0.1  # restored for the next update's copy
    assert not ema.module.training and not ema.module[0].weight.requires_grad
    # The next update copies the live statistics again (training never reads the average's).
    ema.update(net)
    assert torch.equal(ema.module[1].running_mean, net[1].running_mean)


def test_ema_without_batchnorm_reads_no_batches() -> None:
    ema = Ema(nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4)))
    assert not ema.has_norm_stats

    def batches():  # type: ignore[no-untyped-def]
        raise AssertionError("read")
        yield

    ema.measure_norm_stats(batches())
    assert Ema(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))).has_norm_stats


# ---------------------------------------------------------------- ADA


def test_realness_all_positive_is_one_and_mixed_averages_over_window() -> None:
    tr = RealnessTracker("vanilla", window=2)
    assert tr.update(torch.full((2, 1, 3, 3), 0.1)) == 1.0
    assert tr.update(torch.tensor([1.0, -1.0, 2.0, -3.0])) == pytest.approx(0.5)  # (1 + 0) / 2
    assert tr.update(-torch.ones(5)) == pytest.approx(-0.5)  # first step left the window: (0 - 1) / 2
    lsgan = RealnessTracker("lsgan")
    assert lsgan.update(torch.tensor([0.4, 0.6, 0.7, 0.8])) == pytest.approx(0.5)  # sign(x - 0.5)


def test_realness_resumes_exactly() -> None:
    tr = RealnessTracker("hinge", window=3)
    for v in [1.0, -1.0, 1.0, 1.0]:
        tr.update(torch.tensor([v, 1.0]))
    resumed = RealnessTracker("hinge", window=3)
    resumed.load_state_dict(_roundtrip(tr.state_dict()))
    x = torch.tensor([-1.0, -2.0])
    assert resumed.update(x) == tr.update(x)


def test_adaptive_p_rises_above_target_and_falls_to_zero_below() -> None:
    ada = AdaptiveAugment(target=0.6, speed_images=100)
    ada.adjust(0.9, batch_size=4)
    assert ada.p == pytest.approx(0.04)
    ada.adjust(0.6, batch_size=4)
    assert ada.p == pytest.approx(0.04)
    for _ in range(100):
        ada.adjust(1.0, batch_size=4)
    assert ada.p == pytest.approx(0.8)  # capped at p_max
    for _ in range(100):
        ada.adjust(0.0, batch_size=4)
    assert ada.p == 0.0


def test_augment_identity_at_p0_and_changes_at_p1() -> None:
    x = torch.randn(4, 3, 16, 16)
    ada = AdaptiveAugment()
    assert ada.apply([x], torch.Generator())[0] is x
    ada.p = 1.0
    (y,) = ada.apply([x], torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert all(not torch.allclose(y[i], x[i]) for i in range(4))


def test_augment_keeps_pairs_consistent() -> None:
    ada = AdaptiveAugment(p=0.8)
    x = torch.randn(8, 3, 16, 16)
    a, b = ada.apply([x, x.clone()], torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, x)
    # a 1-channel condition gets the same geometry; colour left off both to compare pixel for pixel
    img, cond = ada.apply([x, x[:, :1]], torch.Generator().manual_seed(3), colour=[False, False])
    assert torch.equal(cond, img[:, :1]) and not torch.equal(img, x)
    # colour only on the image: the condition is a pure re-arrangement of its pixels
    cond2, img2 = ada.apply([x[:, :1], x], torch.Generator().manual_seed(3), colour=[False, True])
    assert torch.equal(cond2, cond) and not torch.equal(img2, img)


def test_augment_is_differentiable_and_reproducible() -> None:
    ada = AdaptiveAugment(p=0.8)
    x = torch.randn(16, 3, 16, 12, dtype=torch.float64, requires_grad=True)  # not square: no rotations
    (y,) = ada.apply([x], torch.Generator().manual_seed(5))
    r = torch.randn_like(y)
    (y * r).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # the transform is affine per sample, T(x) = A x + c, so <r, T(x + e) - T(x)> = <Aᵀ r, e>:
    # the gradient must be the whole adjoint, not just part of it
    e = torch.randn_like(x)
    (shifted,) = ada.apply([(x + e).detach()], torch.Generator().manual_seed(5))
    assert (r * (shifted - y)).sum().item() == pytest.approx((x.grad * e).sum().item(), rel=1e-9)
    (again,) = ada.apply([x], torch.Generator().manual_seed(5))
    (other,) = ada.apply([x], torch.Generator().manual_seed(6))
    assert torch.equal(y, again) and not torch.equal(y, other)
    assert y.shape == x.shape


def test_augment_state_roundtrip() -> None:
    ada = AdaptiveAugment(speed_images=10)
    for _ in range(3):
        ada.adjust(1.0, batch_size=1)
    resumed = AdaptiveAugment(speed_images=10)
    resumed.load_state_dict(_roundtrip(ada.state_dict()))
    assert resumed.p == ada.p == pytest.approx(0.3)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(ada.apply([x], torch.Generator().manual_seed(0))[0], resumed.apply([x], torch.Generator().manual_seed(0))[0])


# ---------------------------------------------------------------- schedule


def test_linear_decay_lambda() -> None:
    f = linear_decay_lambda(total_steps=100, decay_steps=40)
    assert [f(0), f(30), f(60)] == [1.0, 1.0, 1.0]
    assert f(80) == pytest.approx(0.5)
    assert f(99) == pytest.approx(1 / 40)
    assert f(100) == 0.0 and f(150) == 0.0
    assert linear_decay_lambda(10, 0)(9) == 1.0
    with pytest.raises(ValueError):
        linear_decay_lambda(10, 11)


def test_linear_decay_drives_lambda_lr() -> None:
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_decay_lambda(4, 2))
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2e-4, 2e-4, 2e-4, 1e-4])

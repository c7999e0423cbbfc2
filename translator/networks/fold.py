"""BatchNorm folded into the convolution before it, for eval-mode inference.

In eval mode a BatchNorm layer is a fixed per-channel affine map, `y = a·x + b`. When it directly
follows a convolution (as in the U-Net and the PatchGAN: conv → norm), the map can be baked into
the convolution's weights and bias, which saves one full pass over the activation per layer and
gives the same outputs up to float rounding. InstanceNorm (statistics of each image) and
BatchNorm in training mode cannot be folded and are left as they are.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

_Conv = nn.Conv2d | nn.ConvTranspose2d
_SLICE = 2**15  # weights scaled at a time: small enough to stay in one thread (below torch's grain) and in the cache


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    return (
        isinstance(conv, _Conv)
        and isinstance(norm, nn.BatchNorm2d)
        and not norm.training
        and norm.running_mean is not None
        and norm.running_var is not None
        and conv.groups == 1
    )


@torch.no_grad()
def _folded(conv: nn.Conv2d | nn.ConvTranspose2d, norm: nn.BatchNorm2d, memory_format: torch.memory_format
            ) -> nn.Conv2d | nn.ConvTranspose2d:
    assert norm.running_mean is not None and norm.running_var is not None
    scale = torch.rsqrt(norm.running_var.double() + norm.eps)
    shift = -norm.running_mean.double() * scale
    if norm.affine:
        scale, shift = scale * norm.weight.double(), shift * norm.weight.double() + norm.bias.double()
    out = copy.copy(conv)  # same hyper-parameters; parameters replaced below
    out._parameters = {}
    # Conv2d weights are (out, in, kh, kw); ConvTranspose2d weights are (in, out, kh, kw).
    shape = (-1, 1, 1, 1) if isinstance(conv, nn.Conv2d) else (1, -1, 1, 1)
    # Scaled in float64 and rounded once to the weights' dtype, a slice of output channels at a
    # time: a float64 copy of all the weights (0.4 GB for unet_256) would cost page faults, not sums.
    w = conv.weight.detach()
    weight = torch.empty_like(w, memory_format=memory_format)
    step = max(1, _SLICE // max(1, w[0].numel()))
    for i in range(0, w.shape[0], step):
        weight[i : i + step] = w[i : i + step].double() * (scale[i : i + step].view(shape) if shape[0] == -1 else scale.view(shape))
    out.weight = nn.Parameter(weight, requires_grad=False)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    out.bias = nn.Parameter((bias * scale + shift).to(conv.weight.dtype), requires_grad=False)
    return out


def fold_batchnorm(net: nn.Module, *, inplace: bool = False,
                   memory_format: torch.memory_format = torch.contiguous_format) -> tuple[nn.Module, int]:
    """`net` (in eval mode) with every conv → BatchNorm pair inside an `nn.Sequential` replaced by
    one convolution; returns the network and the number of layers folded. Without `inplace` the
    caller's network is left untouched (only the folded layers are new; the rest is shared).
    The folded weights are written in `memory_format` (the layout the net will run in: no second
    copy to convert them)."""
    if not inplace:
        net = shallow_copy_tree(net)
    count = 0
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = seq._modules[first], seq._modules[second]
            if conv is not None and norm is not None and _foldable(conv, norm):
                seq._modules[first] = _folded(conv, norm, memory_format)  # type: ignore[arg-type]
                seq._modules[second] = nn.Identity()
                count += 1
    return net, count


def shallow_copy_tree(net: nn.Module, replace: Callable[[nn.Module], nn.Module | None] | None = None) -> nn.Module:
    """A copy of the module tree that shares parameters and buffers with `net`: replacing a
    module, parameter or buffer in the copy leaves `net` as it was.

    `replace(module)`, when given, is asked about every module from the root down: a module it
    returns takes that module's place in the copy (and is not descended into); None copies it.
    """
    if replace is not None and (new := replace(net)) is not None:
        return new
    out = copy.copy(net)
    out._modules = {name: shallow_copy_tree(child, replace) if child is not None else None for name, child in net._modules.items()}
    out._parameters = dict(net._parameters)
    out._buffers = dict(net._buffers)
    return out

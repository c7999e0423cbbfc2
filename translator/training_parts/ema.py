"""An exponential moving average of a generator's weights.

What: `Ema(net)` keeps a frozen copy of `net` (eval mode, no gradients); after each optimiser
step, `update(net)` moves the copy's parameters towards the live ones,
`ema ← d·ema + (1 − d)·p`, and copies the buffers (BatchNorm running statistics and
`num_batches_tracked`, which are already averages and are not trained by the optimiser).
Those statistics were measured on the live weights' activations, not the average's; before the
average is shown, validated or saved, `measure_norm_stats` re-measures them for its own weights
(as SWA's `update_bn` does).

Why: the average of the last few hundred steps is smoother and usually better than the weights of
any single step of an adversarial game. Previews, validation and the exported model use it.

Warm-up (on by default): the decay of update t (0-based) is `min(decay, (1 + t) / (10 + t))`
(0.1, 0.18, 0.25, … reaching 0.999 after about 9,000 updates). A plain decay of 0.999 keeps e⁻¹ ≈ 37 %
of the starting weights after 1,000 steps, so a short fine-tuning run's previews and exported
model would still largely be the model it started from; with the warm-up the average covers
roughly the last tenth of the steps taken so far until it reaches the plain decay. Turn it off
(`warmup=False`) for the textbook average that starts at the initial weights.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class Ema:
    """A moving average of `net`'s weights, held in a separate module (`.module`)."""

    def __init__(self, net: nn.Module, decay: float = 0.999, *, warmup: bool = True) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"the EMA decay must be in [0, 1], not {decay}")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self._module = copy.deepcopy(net).eval().requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        """The averaged network, in eval mode and without gradients. Don't train it."""
        return self._module

    def current_decay(self) -> float:
        """The decay the next `update` will use."""
        if not self.warmup:
            return self.decay
        t = self.num_updates
        return min(self.decay, (1.0 + t) / (10.0 + t))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """Average `net`'s parameters in and copy its buffers; `net` must be the network this
        EMA was made from (same parameters and buffers, in the same order)."""
        d = self.current_decay()
        for avg, live in zip(self._module.parameters(), net.parameters(), strict=True):
            avg.lerp_(live.detach().to(avg.device, avg.dtype), 1.0 - d)  # avg + (1-d)(live-avg)
        for avg_b, live_b in zip(self._module.buffers(), net.buffers(), strict=True):
            avg_b.copy_(live_b)
        self.num_updates += 1

    @property
    def has_norm_stats(self) -> bool:
        """Whether the network has BatchNorm layers that keep running statistics."""
        return bool(_running_norms(self._module))

    @torch.no_grad()
    def measure_norm_stats(self, batches: Iterable[torch.Tensor]) -> None:
        """Replace the average's BatchNorm running statistics by the plain mean, over `batches`
        (inputs on the network's device), of the batch statistics its own weights produce.

        Why: copied from the live network, the statistics belong to other weights; with BatchNorm
        in eval mode that mismatch alone can ruin an early average's output (round 7,
        bench/notes/quality-round-07-batchnorm.md). The forward passes run in train mode, as in training (dropout included); the
        global random state is left as it was, so the training run itself does not change.
        """
        norms = _running_norms(self._module)
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches
        device = next(self._module.parameters()).device
        try:
            with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
                self._module.train()
                for x in batches:
                    self._module(x)
        finally:
            for m, momentum in zip(norms, momenta, strict=True):
                m.momentum = momentum
            self._module.eval()

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights (copies) and the update count (which drives the warm-up)."""
        weights = {k: v.detach().clone() for k, v in self._module.state_dict().items()}
        return {"module": weights, "num_updates": self.num_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` gave (keys and shapes checked strictly)."""
        self._module.load_state_dict(state["module"], strict=True)
        self.num_updates = int(state["num_updates"])


def _running_norms(net: nn.Module) -> list[_BatchNorm]:
    return [m for m in net.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]

"""The learning-rate policy of pix2pix and CycleGAN, counted in optimiser steps.

What: `linear_decay_lambda(total, decay)` is a factor for `torch.optim.lr_scheduler.LambdaLR`:
1.0 for the first `total − decay` steps, then falling linearly to 0 at step `total`.

Why steps: fine-tuning runs are a few thousand steps over a small set, not 200 epochs, and a
resumed run must land on the same factor; `LambdaLR` keeps the step count in its own state_dict.
Different from the reference's 'linear' policy (epochs, `1 − max(0, e + 1 − n) / (n_decay + 1)`):
here the last step before `total` gets 1/decay instead of 1/(decay + 1), and the factor is 0 from
`total` on.
"""
from __future__ import annotations

from collections.abc import Callable


def linear_decay_lambda(total_steps: int, decay_steps: int) -> Callable[[int], float]:
    """step -> factor: 1.0 while step <= total − decay, then (total − step) / decay, 0 after total.

    `decay_steps == 0` gives a constant 1.0. The result is a plain function, so `LambdaLR` does not
    store it in its state_dict (the step count it does store is all a resume needs).
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, not {total_steps}")
    if not 0 <= decay_steps <= total_steps:
        raise ValueError(f"decay_steps must be between 0 and total_steps ({total_steps}), not {decay_steps}")
    constant = total_steps - decay_steps

    def factor(step: int) -> float:
        if step <= constant:
            return 1.0
        return max(0.0, (total_steps - step) / decay_steps)

    return factor

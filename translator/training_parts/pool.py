"""The history of generated images that CycleGAN's discriminators are trained on.

What: the reference's `ImagePool` (Shrivastava et al. 2017): the first `size` fakes are stored and
passed through; afterwards each new fake is, with probability 1/2, swapped for a random stored
one (which is returned instead) or passed through untouched.

Why: a discriminator that also sees older fakes cannot chase only the generator's latest
mode, which damps oscillation (the CycleGAN paper uses 50 images).

Different from the reference: the coin flips come from the pool's own seeded `torch.Generator`
(not the global `random` module), and `state_dict()` holds the stored images and that generator's
state, so a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class ImagePool:
    """A buffer of up to `size` past fakes; `size=0` turns it off (every query is a pass-through)."""

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"the image pool size must be >= 0, not {size}")
        self.size = size
        self._images: list[Tensor] = []  # each (C, H, W), detached, on the device it came from
        self._rng = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self._images)

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        """(N, C, H, W) fakes -> (N, C, H, W) detached mix of these and older ones (same device
        and dtype as `images`). Images are handled one by one, in batch order.

        With `size=0` the input itself is returned (not detached). All queries must share one
        image shape (the training loop crops to a fixed size); a different one raises ValueError.
        """
        if self.size == 0:
            return images
        if self._images and images.shape[1:] != self._images[0].shape:
            raise ValueError(
                f"the image pool holds images of shape {tuple(self._images[0].shape)}, "
                f"not {tuple(images.shape[1:])}: train on crops of one size"
            )
        out: list[Tensor] = []
        for image in images.detach():
            if len(self._images) < self.size:  # still filling: store and pass through
                self._images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self._rng).item() > 0.5:  # return an old one, keep the new
                i = int(torch.randint(self.size, (), generator=self._rng).item())
                old = self._images[i]
                self._images[i] = image.clone()
                out.append(old.to(device=images.device, dtype=images.dtype))
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        """`size`, the stored images as one CPU tensor (K, C, H, W) (K = 0: an empty tensor) and
        the generator state; plain tensors and ints, so `torch.load(weights_only=True)` reads it."""
        images = torch.stack([im.cpu() for im in self._images]) if self._images else torch.empty(0)
        return {"size": self.size, "images": images, "rng": self._rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` gave; the pool's size must match (ValueError otherwise).
        Images stay on the CPU until returned by a query, which moves them to the query's device."""
        if int(state["size"]) != self.size:
            raise ValueError(f"this pool holds {self.size} images but the saved one held {state['size']}")
        images: Tensor = state["images"]
        if images.shape[0] > self.size:
            raise ValueError(f"the saved pool has {images.shape[0]} images, more than its size {self.size}")
        self._images = [im.clone() for im in images] if images.numel() else []
        self._rng.set_state(state["rng"].clone())

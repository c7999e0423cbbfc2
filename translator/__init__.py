"""Image-to-image translation engine (pix2pix, CycleGAN). Qt-free: the CLI and the GUI build on it."""
from __future__ import annotations

__version__ = "0.1.0"

"""The reference implementation's loops, re-created as the baseline of the speed benchmarks.

The reference (junyanz/pytorch-CycleGAN-and-pix2pix) cannot be downloaded on the benchmark
machine, so its `test.py` and `train.py` inner loops are re-created here from their documented
behaviour, step for step, in plain PyTorch with the reference's own network layouts (the
project's networks load its checkpoints with `strict=True` and give the same pixels):

- inference (`test.py --eval`): one image at a time in the main thread (`num_threads 0`,
  `batch_size 1`); Pillow decode, RGB, bicubic resize to 256×256, `ToTensor` + `Normalize(0.5)`;
  `torch.no_grad()` forward; every visual written as its own PNG through `tensor2im` (pix2pix on
  aligned A|B files: real_A, fake_B, real_B; CycleGAN's `test` model on single images: real, fake).
- training (`train.py`, batch 1 unless given): an A|B (pix2pix) or A + B (CycleGAN) file opened per
  sample, resized to 286 and randomly cropped to 256 and flipped, on DataLoader workers; pix2pix:
  D on (A, G(A)) detached and on (A, B) with BCE-with-logits, then G with the GAN term + 100·L1;
  CycleGAN: both generators, cycle (10) and identity (0.5) losses with least squares, then both
  discriminators against 50-image pools. Adam(2e-4, β=(0.5, 0.999)) for every net.

The figures these loops give on the benchmark machine are checked against the ones measured with
the real reference in the performance issue (BENCHMARKS.md shows both).
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from translator.networks import DiscriminatorSpec, GeneratorSpec, build_discriminator, build_generator

PIX2PIX_G = GeneratorSpec("unet_256", 64, "batch", True)
PIX2PIX_D = DiscriminatorSpec("patch", 3, 64, "batch", 6, "vanilla")
CYCLEGAN_G = GeneratorSpec("resnet_9blocks", 64, "instance", False)
CYCLEGAN_D = DiscriminatorSpec("patch", 3, 64, "instance", 3, "lsgan")

_NORMALISE = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])


def _tensor2im(t: torch.Tensor) -> np.ndarray:
    """The reference's `util.tensor2im`: first image of the batch, [-1, 1] -> uint8 HWC."""
    a = t[0].cpu().float().numpy()
    return (np.transpose(a, (1, 2, 0)) + 1) / 2.0 * 255.0  # the reference casts on save


def _save(a: np.ndarray, path: Path) -> None:
    Image.fromarray(a.astype(np.uint8)).save(path)


def _load_test_image(path: Path, aligned: bool, size: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    im = Image.open(path).convert("RGB")

    def resize(x: Image.Image) -> Image.Image:  # `--preprocess none` (size None) keeps the image's size
        return x if size is None else transforms.Resize([size, size], transforms.InterpolationMode.BICUBIC)(x)

    if not aligned:
        return _NORMALISE(resize(im))[None], None
    w, h = im.size
    a, b = im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))
    return _NORMALISE(resize(a))[None], _NORMALISE(resize(b))[None]


def test_loop(net: nn.Module, files: list[Path], out: Path, *, aligned: bool, size: int | None = 256) -> float:
    """Run the reference's test loop over `files` into `out`; returns wall seconds (load excluded)."""
    out.mkdir(parents=True, exist_ok=True)
    net.eval()
    start = time.perf_counter()
    for f in files:
        real_a, real_b = _load_test_image(f, aligned, size)
        with torch.no_grad():
            fake = net(real_a)
        visuals = {"real_A": real_a, "fake_B": fake, "real_B": real_b} if aligned else {"real": real_a, "fake": fake}
        for label, t in visuals.items():
            if t is not None:
                _save(_tensor2im(t), out / f"{f.stem}_{label}.png")
    return time.perf_counter() - start


# --- training -------------------------------------------------------------------------------


def _train_transform(flip: bool, x: int, y: int) -> transforms.Compose:
    ops: list[object] = [transforms.Resize([286, 286], transforms.InterpolationMode.BICUBIC),
                         transforms.Lambda(lambda im: im.crop((x, y, x + 256, y + 256)))]
    if flip:
        ops.append(transforms.Lambda(lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    return transforms.Compose([*ops, _NORMALISE])


class AlignedFiles(Dataset[dict[str, torch.Tensor]]):
    """pix2pix data: A|B side-by-side files, one random crop/flip shared by both halves."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        im = Image.open(self.files[i]).convert("RGB")
        w, h = im.size
        t = _train_transform(random.random() > 0.5, random.randint(0, 30), random.randint(0, 30))
        return {"A": t(im.crop((0, 0, w // 2, h))), "B": t(im.crop((w // 2, 0, w, h)))}


class UnalignedFiles(Dataset[dict[str, torch.Tensor]]):
    """CycleGAN data: an A file in order and a random B file, each with its own crop/flip."""

    def __init__(self, a: list[Path], b: list[Path]) -> None:
        self.a, self.b = a, b

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        def one(p: Path) -> torch.Tensor:
            t = _train_transform(random.random() > 0.5, random.randint(0, 30), random.randint(0, 30))
            return t(Image.open(p).convert("RGB"))  # type: ignore[no-any-return]

        return {"A": one(self.a[i % len(self.a)]), "B": one(random.choice(self.b))}


def _init(net: nn.Module) -> nn.Module:
    """The reference's `init_weights('normal', 0.02)`."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net.train()


def _adam(*nets: nn.Module) -> torch.optim.Adam:
    return torch.optim.Adam([p for n in nets for p in n.parameters()], lr=2e-4, betas=(0.5, 0.999))


def _batches(ds: Dataset[dict[str, torch.Tensor]], batch: int, workers: int) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                              persistent_workers=False)


def _requires_grad(nets: tuple[nn.Module, ...], flag: bool) -> None:
    for n in nets:
        for p in n.parameters():
            p.requires_grad_(flag)


def pix2pix_steps(files: list[Path], steps: int, *, batch: int = 1, workers: int = 4) -> list[float]:
    """Seconds of each of `steps` reference pix2pix training steps (data loading included)."""
    g, d = _init(build_generator(PIX2PIX_G)), _init(build_discriminator(PIX2PIX_D))
    opt_g, opt_d = _adam(g), _adam(d)
    bce, l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
    data = _batches(AlignedFiles(files), batch, workers)
    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        b = next(data)
        real_a, real_b = b["A"], b["B"]
        fake_b = g(real_a)
        _requires_grad((d,), True)
        opt_d.zero_grad()
        pred_fake = d(torch.cat((real_a, fake_b), 1).detach())
        pred_real = d(torch.cat((real_a, real_b), 1))
        loss_d = (bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real))) * 0.5
        loss_d.backward()
        opt_d.step()
        _requires_grad((d,), False)
        opt_g.zero_grad()
        pred_fake = d(torch.cat((real_a, fake_b), 1))
        loss_g = bce(pred_fake, torch.ones_like(pred_fake)) + l1(fake_b, real_b) * 100.0
        loss_g.backward()
        opt_g.step()
        seconds.append(time.perf_counter() - t0)
    return seconds


class _Pool:
    """The reference's 50-image history of generated images (half the time an older one is used)."""

    def __init__(self, size: int = 50) -> None:
        self.size, self.images = size, list[torch.Tensor]()

    def query(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for im in images.detach():
            im = im[None]
            if len(self.images) < self.size:
                self.images.append(im)
                out.append(im)
            elif random.random() > 0.5:
                j = random.randrange(self.size)
                out.append(self.images[j].clone())
                self.images[j] = im
            else:
                out.append(im)
        return torch.cat(out)


def cyclegan_steps(a: list[Path], b: list[Path], steps: int, *, batch: int = 1, workers: int = 4) -> list[float]:
    """Seconds of each of `steps` reference CycleGAN training steps (data loading included)."""
    g_a, g_b = _init(build_generator(CYCLEGAN_G)), _init(build_generator(CYCLEGAN_G))
    d_a, d_b = _init(build_discriminator(CYCLEGAN_D)), _init(build_discriminator(CYCLEGAN_D))
    opt_g, opt_d = _adam(g_a, g_b), _adam(d_a, d_b)
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    pool_a, pool_b = _Pool(), _Pool()
    data = _batches(UnalignedFiles(a, b), batch, workers)

    def gan(pred: torch.Tensor, real: bool) -> torch.Tensor:
        return mse(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        bt = next(data)
        real_a, real_b = bt["A"], bt["B"]
        fake_b, fake_a = g_a(real_a), g_b(real_b)
        rec_a, rec_b = g_b(fake_b), g_a(fake_a)
        _requires_grad((d_a, d_b), False)
        opt_g.zero_grad()
        idt_a, idt_b = g_a(real_b), g_b(real_a)
        loss_g = (gan(d_a(fake_b), True) + gan(d_b(fake_a), True) + l1(rec_a, real_a) * 10 + l1(rec_b, real_b) * 10
                  + l1(idt_a, real_b) * 5 + l1(idt_b, real_a) * 5)
        loss_g.backward()
        opt_g.step()
        _requires_grad((d_a, d_b), True)
        opt_d.zero_grad()
        for d, real, fake in ((d_a, real_b, pool_b.query(fake_b)), (d_b, real_a, pool_a.query(fake_a))):
            ((gan(d(real), True) + gan(d(fake.detach()), False)) * 0.5).backward()
        opt_d.step()
        seconds.append(time.perf_counter() - t0)
    return seconds

"""Speed and memory figures of the engine, side by side with the reference implementation's loops.

    .venv/bin/python -m bench.perf [SECTION ...]     # sections: peaks inference folder training big memory

Each section prints a Markdown block (what was measured, the command, a table). `bench/run.py`
(`make bench`) runs them all and writes BENCHMARKS.md. Every figure is the median of repeated runs
after a warm-up run; ratios compare runs made in the same process, one after the other.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from bench.common import gib, photo, run_child, timed
from bench.reference_loops import CYCLEGAN_D, CYCLEGAN_G, PIX2PIX_D, PIX2PIX_G, cyclegan_steps, pix2pix_steps, test_loop
from translator.checkpoint import Model, ModelCard, build_model, save_model
from translator.devices import Precision, effective_precision
from translator.inference import InferenceOptions, WorkItem, make_translator, translate_batch, translate_files
from translator.networks import GeneratorSpec
from translator.training import TrainConfig, TrainProgress, train

Section = Callable[[Path], str]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16")


def precisions() -> tuple[Precision, ...]:
    """fp32, and bf16 where this CPU runs it natively (the engine's own rule: `effective_precision`)."""
    bf16, _why = effective_precision(torch.device("cpu"), "bf16")
    return PRECISIONS if bf16 == "bf16" else ("fp32",)


def pix2pix_model(seed: int = 0) -> Model:
    """The reference pix2pix architecture (unet_256, ngf 64, BatchNorm) with BatchNorm statistics
    of real photos, so eval mode computes what a trained model computes."""
    model = build_model(ModelCard("bench-pix2pix", "pix2pix", {"g": PIX2PIX_G}, {"d": PIX2PIX_D}), seed=seed)
    g = model.nets["g"].train()
    with torch.no_grad():
        for i in range(4):
            g(torch.from_numpy(photo(i, (256, 256))).permute(2, 0, 1)[None].float() / 127.5 - 1)
    g.eval()
    return model


def cyclegan_model(seed: int = 0) -> Model:
    card = ModelCard("bench-cyclegan", "cyclegan", {"g_ab": CYCLEGAN_G}, {"d_b": CYCLEGAN_D})
    return build_model(card, seed=seed)


def gflop(net: torch.nn.Module, size: int, in_channels: int = 3) -> float:
    """Floating-point operations (2 per multiply-add) of one forward pass at size×size."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(torch.zeros(1, in_channels, size, size))
    return counter.get_total_flops() / 1e9


# --- peaks --------------------------------------------------------------------------------------


def measure_peaks() -> dict[str, float]:
    """GFLOP/s of large matmuls (MKL) and 3×3 convolutions (oneDNN) of the shapes a ResNet
    generator runs, fp32 and (where supported) bf16; the best of them is the machine's peak here."""
    out: dict[str, float] = {}
    for prec in precisions():
        dtype = torch.float32 if prec == "fp32" else torch.bfloat16
        for n in (2048, 4096):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            t = timed(lambda: torch.mm(a, b), repeats=5, warmup=2)
            out[f"matmul {n}² {prec}"] = 2 * n**3 / t.median / 1e9
        for batch, size in ((1, 64), (4, 64), (1, 128)):
            conv = torch.nn.Conv2d(256, 256, 3, bias=False).eval()
            x = torch.randn(batch, 256, size + 2, size + 2)  # pre-padded, as after a ReflectionPad2d
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
                t = timed(lambda: conv(x), repeats=5, warmup=2)
            out[f"conv3x3 256ch {batch}×{size}² {prec}"] = 2 * 256 * 256 * 9 * size * size * batch / t.median / 1e9
    return out


def peak(prec: Precision) -> float:
    """The best GFLOP/s measured for this precision."""
    return max(v for k, v in _PEAKS.items() if k.endswith(prec))


_PEAKS: dict[str, float] = {}


def peaks(_tmp: Path) -> str:
    _PEAKS.update(measure_peaks())
    rows = [f"| {k} | {v:.0f} |" for k, v in _PEAKS.items()]
    return "\n".join([
        "### Peaks of this machine",
        "",
        "`python -m bench.perf peaks` — square matmuls (MKL) and 3×3 convolutions with 256 channels (oneDNN; "
        "the shape of a ResNet generator's blocks), median of 5 after 2 warm-ups. The best of each precision "
        "is the peak the throughput table compares with.",
        "",
        "| kernel | GFLOP/s |",
        "|---|---|",
        *rows,
    ])


# --- model throughput ----------------------------------------------------------------------------


def _images_per_s(model: Model, size: int, batch: int, prec: Precision, repeats: int) -> float:
    tr = make_translator(model, InferenceOptions(device="cpu", precision=prec, tile="off"))
    images = [photo(i, (size, size)) for i in range(batch)]
    t = timed(lambda: translate_batch(tr, images), repeats=repeats, warmup=1)
    return batch / t.median


def inference(_tmp: Path) -> str:
    if not _PEAKS:
        _PEAKS.update(measure_peaks())
    rows = []
    for name, model in (("pix2pix unet_256", pix2pix_model()), ("CycleGAN resnet_9blocks", cyclegan_model())):
        net, _spec = model.generator()
        for size, batches in ((256, (1, 2, 4, 8)), (1024, (1,))):
            flops = gflop(net, size)
            for prec in precisions():
                rates = {b: _images_per_s(model, size, b, prec, repeats=3 if size == 256 else 2) for b in batches}
                best = max(rates, key=lambda b: rates[b])
                best_flops = peak(prec)
                for b in sorted({1, best}):
                    r = rates[b]
                    rows.append(f"| {name} | {size}² | {b}{' (best)' if b == best and len(batches) > 1 else ''} | {prec} | "
                                f"{r:.2f} | {r * flops:.0f} | {100 * r * flops / best_flops:.0f} % |")
    return "\n".join([
        "### Model throughput",
        "",
        "`python -m bench.perf inference` — `translate_batch` on real photos (uint8 in, uint8 out: "
        "conversion included, files not), eval mode, untiled; batch 1 and the best of 1, 2, 4, 8 at 256². "
        "GFLOP/s counts 2 operations per multiply-add (torch's FlopCounterMode); the last column compares "
        "it with the best kernel of the same precision above.",
        "",
        "| model | size | batch | precision | images/s | GFLOP/s | of peak |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])


# --- whole folder jobs against the reference -------------------------------------------------------


def _write_folder(root: Path, n: int, size: tuple[int, int], aligned: bool) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        a = photo(i, size)
        img = np.concatenate([a, photo(i + 100, size)], axis=1) if aligned else a
        files.append(root / f"{i:03d}.png")
        Image.fromarray(img).save(files[-1])
    return files


def _folder_job(model: Model, files: list[Path], out: Path, options: InferenceOptions) -> float:
    tr = make_translator(model, options)
    t0 = time.perf_counter()
    for _ in translate_files(tr, [WorkItem(f, out / f.name) for f in files], overwrite=True):
        pass
    return time.perf_counter() - t0


def folder(tmp: Path) -> str:
    rows = []
    for name, model, n, aligned in (("pix2pix unet_256", pix2pix_model(), 24, True), ("CycleGAN resnet_9blocks", cyclegan_model(), 8, False)):
        net, _ = model.generator()
        ab = _write_folder(tmp / f"{name}-ref-in", n, (256, 256), aligned)
        plain = _write_folder(tmp / f"{name}-in", n, (256, 256), False)
        ref = statistics.median(test_loop(net, ab, tmp / "ref-out", aligned=aligned) for _ in range(3))
        rows.append(f"| {name} | reference loop (`test.py --eval`) | fp32 | 1 | {n / ref:.2f} | 1.00× |")
        for prec in precisions():
            for batch in (1, 4):
                opts = InferenceOptions(device="cpu", precision=prec, batch_size=batch)
                _folder_job(model, plain[:4], tmp / "warm", opts)
                ours = statistics.median(_folder_job(model, plain, tmp / "out", opts) for _ in range(3))
                rows.append(f"| {name} | `translate_files` | {prec} | {batch} | {n / ours:.2f} | {ref / ours:.2f}× |")
    return "\n".join([
        "### Folder jobs against the reference",
        "",
        "`python -m bench.perf folder` — 256×256 photos, eval mode, model loaded beforehand, median of 3 "
        "whole-folder runs. The reference loop (`bench/reference_loops.py`) re-creates `test.py`: pix2pix on "
        "A|B files writes real_A, fake_B and real_B; CycleGAN's test model writes real and fake. Ours writes "
        "the translation.",
        "",
        "| model | loop | precision | batch | images/s | vs reference |",
        "|---|---|---|---|---|---|",
        *rows,
    ])


# --- training steps --------------------------------------------------------------------------------


def _our_steps(kind: str, data: Path, tmp: Path, batch: int, prec: Precision, steps: int) -> list[float]:
    """Seconds per step of our trainer with the reference recipe (`classic` preset)."""
    cfg = TrainConfig.from_preset("classic", kind, data, tmp / f"run-{kind}-{batch}-{prec}",  # type: ignore[arg-type]
                                  batch_size=batch, precision=prec, steps=steps + 1, val_every=10**9,
                                  sample_every=10**9, checkpoint_every=10**9, workers=2)
    seconds = []
    for ev in train(cfg):
        assert isinstance(ev, TrainProgress)
        if ev.done > 1:
            seconds.append(ev.seconds)
    return seconds


def training(tmp: Path) -> str:
    photos = [photo(i, (286, 286)) for i in range(8)]
    pairs = tmp / "pairs"
    for side in ("A", "B"):
        (pairs / side).mkdir(parents=True)
    ab_files = []
    for i, p in enumerate(photos):
        Image.fromarray(p).save(pairs / "A" / f"{i}.png")
        Image.fromarray(p[:, ::-1]).save(pairs / "B" / f"{i}.png")
        ab_files.append(tmp / f"ab{i}.png")
        Image.fromarray(np.concatenate([p, p[:, ::-1]], axis=1)).save(ab_files[-1])
    rows = []
    # (model, batch, measured steps, compare with the reference): CycleGAN at batch 4 takes minutes
    # a step on a small CPU, so it is measured for ours only, with fewer steps.
    for kind, batch, steps, compare in (("pix2pix", 1, 4, True), ("pix2pix", 4, 3, True), ("cyclegan", 1, 3, True),
                                        ("cyclegan", 4, 2, False)):
        ref: float | None = None
        if compare and kind == "pix2pix":
            ref = statistics.median(pix2pix_steps(ab_files, steps + 1, batch=batch)[1:])
        elif compare:
            ref = statistics.median(cyclegan_steps(sorted((pairs / "A").iterdir()), sorted((pairs / "B").iterdir()), steps + 1, batch=batch)[1:])
        if ref is not None:
            rows.append(f"| {kind} | {batch} | reference loop | fp32 | {ref:.2f} | {ref / batch:.2f} | 1.00× |")
        for prec in precisions():
            ours = statistics.median(_our_steps(kind, pairs, tmp, batch, prec, steps))
            ratio = f"{ref / ours:.2f}×" if ref is not None else "—"
            rows.append(f"| {kind} | {batch} | ours, `classic` recipe | {prec} | {ours:.2f} | {ours / batch:.2f} | {ratio} |")
    return "\n".join([
        "### Training steps against the reference",
        "",
        "`python -m bench.perf training` — 256×256 crops of 286-px photos, data loading included, reference "
        "architectures and losses (our `classic` preset; `bench/reference_loops.py` for the reference's "
        "`train.py`), median seconds per step after one warm-up step.",
        "",
        "| model | batch | loop | precision | s/step | s/image | speed vs reference |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])


# --- large images and memory -------------------------------------------------------------------------


def big(tmp: Path) -> str:
    model_path = save_model(pix2pix_model(), tmp / "pix2pix.safetensors")
    rows = []
    for w, h in ((4096, 4096), (1000, 1000), (4001, 2999)):
        src = tmp / f"big{w}x{h}.png"
        Image.fromarray(photo(0, (w, h))).save(src)
        for which in ("reference", "ours"):
            if which == "reference" and w % 256:
                rows.append(f"| {w}×{h} | reference | fails: sizes must be multiples of 256 | — |")
                continue
            runs = []
            for _ in range(2 if w == 4096 else 1):
                out, _wall, rss = run_child(["-m", "bench.children", "big", which, str(model_path), str(src), str(tmp / which)])
                runs.append((float(out.split("seconds=")[1].split()[0]), rss))
            secs = statistics.median(r[0] for r in runs)
            rows.append(f"| {w}×{h} | {which} | {secs:.1f} | {gib(max(r[1] for r in runs))} |")
    return "\n".join([
        "### Large images",
        "",
        "`python -m bench.perf big` — pix2pix unet_256 (ngf 64, BatchNorm, eval mode), fp32, one image per "
        "fresh process (`python -m bench.children big`), decode + translate + write timed, median of 2 at 4096² "
        "(one run at the other sizes); peak "
        "RSS is the process's VmHWM (Python, torch and the model included). The reference runs the whole image "
        "in one pass (`--preprocess none`); ours tiles under `--memory-budget 640` (the default before issue 29; "
        "the default now, half the memory available, runs these whole).",
        "",
        "| image | loop | seconds | peak RSS |",
        "|---|---|---|---|",
        *rows,
    ])


def memory(tmp: Path) -> str:
    model_path = save_model(pix2pix_model(), tmp / "pix2pix.safetensors")
    src = tmp / "hundred"
    _write_folder(src, 100, (640, 480), False)
    out, _wall, rss = run_child(["-m", "bench.children", "folder", str(model_path), str(src), str(tmp / "hundred-out")])
    secs = float(out.split("seconds=")[1].split()[0])
    return "\n".join([
        "### Memory of a folder job",
        "",
        "`python -m bench.perf memory` — `translator translate` (in a fresh process) over 100 photos of "
        "640×480 with pix2pix unet_256, fp32.",
        "",
        "| job | seconds | peak RSS |",
        "|---|---|---|",
        f"| 100 × 640×480 | {secs:.1f} | {gib(rss)} |",
    ])


SECTIONS: dict[str, Section] = {"peaks": peaks, "inference": inference, "folder": folder, "training": training,
                                "big": big, "memory": memory}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    args = p.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}: choose from {', '.join(SECTIONS)}")
    for name in args.sections or SECTIONS:
        with tempfile.TemporaryDirectory() as tmp:
            print(SECTIONS[name](Path(tmp)), flush=True)
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluating a model on paired folders: PSNR, SSIM and the discriminator's verdict per image.

Inputs and targets are paired by file stem. The output compared with the target is exactly what
`translate` would write (8-bit), so the figures describe the files a user gets.
"""
from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from translator import imaging
from translator._fs import write_bytes_atomic
from translator.errors import ImageError, TranslatorError
from translator.inference import Translator, prepare_net, translate_array
from translator.jobs import CancelToken, ItemResult, Progress, ProgressClock
from translator.metrics import discriminator_verdict, overlay_heatmap, psnr, ssim, verdict_heatmap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pairing:
    """Files matched by stem, and those left without a partner (reported, never dropped silently)."""

    pairs: list[tuple[Path, Path]]
    unmatched_inputs: list[Path]
    unmatched_targets: list[Path]


def pair_by_stem(inputs: Path, targets: Path, *, recursive: bool = False) -> Pairing:
    """Pair `inputs/x.*` with `targets/x.*` (relative folder + stem must match)."""

    def index(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for f in imaging.list_images(folder, recursive=recursive):
            key = str(f.relative_to(folder).with_suffix(""))
            if key in found:
                raise TranslatorError(f"{folder}: two files share the name {key!r} ({found[key].name}, {f.name}); rename one")
            found[key] = f
        return found

    for folder in (inputs, targets):
        if not Path(folder).is_dir():
            raise TranslatorError(f"{folder}: not a folder")
    a, b = index(Path(inputs)), index(Path(targets))
    pairs = [(a[k], b[k]) for k in sorted(a) if k in b]
    return Pairing(pairs, [a[k] for k in sorted(a) if k not in b], [b[k] for k in sorted(b) if k not in a])


@dataclass
class EvalSummary:
    """Per-image rows and their means."""

    rows: list[dict[str, float | str]] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)

    def means(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in ("psnr", "ssim", "d_realness_output", "d_realness_target"):
            vals = [float(r[key]) for r in self.rows if key in r and not math.isnan(float(r[key]))]
            finite = [v for v in vals if math.isfinite(v)]
            if vals:
                out[key] = sum(finite) / len(finite) if finite else math.inf
        return out


def evaluate_pairs(
    tr: Translator,
    pairs: Sequence[tuple[Path, Path]],
    *,
    heatmap_dir: Path | None = None,
    token: CancelToken | None = None,
) -> Generator[Progress, None, EvalSummary]:
    """Translate each input, compare with its target: a job yielding one event per pair.

    With `heatmap_dir` (and a discriminator), writes `<stem>_verdict.png` per image: the output
    with the discriminator's realness map laid over it (bright = judged real).

    Without `resize`, a target of another size than its input is an error for that pair (the
    model keeps sizes). With `resize`, the target is resized the same way before comparing.
    """
    token = token or CancelToken()
    summary = EvalSummary()
    clock = ProgressClock(len(pairs))
    judge = tr.model.discriminator_for_output(tr.direction)
    d_net = prepare_net(judge[0], tr.options.mode).to(tr.device) if judge else None
    gan_mode = judge[1].gan_mode if judge else "vanilla"
    for src, tgt in pairs:
        token.raise_if_cancelled()
        try:
            a, b = imaging.read_image(src), imaging.read_image(tgt)
            out = translate_array(tr, a.rgb)
            target = b.rgb
            if tr.options.resize:
                n = tr.options.resize
                target = np.asarray(Image.fromarray(target).resize((n, n), Image.Resampling.BICUBIC))
                cond = np.asarray(Image.fromarray(a.rgb).resize((n, n), Image.Resampling.BICUBIC))
            else:
                cond = a.rgb
            if target.shape != out.shape:
                raise ImageError(f"{tgt}: target is {target.shape[1]}×{target.shape[0]} but the output of {src.name} is {out.shape[1]}×{out.shape[0]}; use --resize N to compare at one size")
            row: dict[str, float | str] = {"input": str(src), "target": str(tgt), "psnr": psnr(out, target), "ssim": ssim(out, target)}
            if d_net is not None:
                condition = imaging.to_tensor(cond).to(tr.device) if tr.model.card.kind == "pix2pix" else None
                verdict = discriminator_verdict(d_net, condition, imaging.to_tensor(out).to(tr.device), gan_mode)
                row["d_realness_output"] = verdict.mean_realness
                if heatmap_dir is not None:
                    heat = verdict_heatmap(verdict.realness, (out.shape[1], out.shape[0]), gan_mode)
                    imaging.write_image(Path(heatmap_dir) / f"{src.stem}_verdict.png", overlay_heatmap(out, heat, 0.6))
                row["d_realness_target"] = discriminator_verdict(d_net, condition, imaging.to_tensor(target).to(tr.device), gan_mode).mean_realness
            summary.rows.append(row)
            metrics = {k: float(v) for k, v in row.items() if not isinstance(v, str)}
            yield clock.tick(src, ItemResult(src, "done", None, metrics=metrics))
        except (ImageError, OSError) as exc:
            summary.failed.append(ItemResult(src, "failed", None, str(exc)))
            yield clock.tick(src, summary.failed[-1])
    return summary


def write_report(path: Path, summary: EvalSummary) -> Path:
    """Per-image CSV (atomic), with a final `mean` row."""
    cols = ["input", "target", "psnr", "ssim", "d_realness_output", "d_realness_target"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in summary.rows:
        w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    w.writerow({"input": "mean", **{k: f"{v:.6f}" for k, v in summary.means().items()}})
    write_bytes_atomic(Path(path), buf.getvalue().encode())
    return Path(path)

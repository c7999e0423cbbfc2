"""Evaluating a model on folders: PSNR, SSIM and the discriminator's verdict per image, and the
outputs' KID and FID against the target folder as a whole.

Inputs and targets are paired by file stem; an unpaired target folder (pictures of the target
domain, no image matching an input) gets KID/FID only (`translator.realism`). The output compared
with the target is exactly what `translate` would write (8-bit), so the figures describe the files
a user gets. The report and the
heat-maps never land on an image being evaluated, nor replace a file the tool did not write unless
asked to: `check_report_path` and `check_heatmap_dir` refuse such paths before any work.
"""
from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from translator import imaging
from translator._fs import check_writable, fitting_name, require_writable, shown, write_bytes_atomic
from translator.errors import ImageError, OutputError, TranslatorError
from translator.inference import Translator, prepare_net, translate_array
from translator.jobs import CancelToken, ItemResult, Progress, ProgressClock
from translator.metrics import (
    PatchMap,
    Verdict,
    discriminator_patch_map,
    discriminator_verdict,
    overlay_heatmap,
    patch_grid,
    psnr,
    ssim,
    verdict_heatmap,
)
from translator.realism import FEATURE_DIM, DistributionScores, FeatureNet, features_of_folder, scores_of_features

log = logging.getLogger(__name__)

_PER_IMAGE_COLUMNS = ("input", "target", "psnr", "ssim", "d_realness_output", "d_realness_target")
REALISM_COLUMNS = ("kid_mean", "kid_std", "fid", "n_target", "n_translated", "realism_note")  # the `mean` row's
REPORT_COLUMNS = _PER_IMAGE_COLUMNS + REALISM_COLUMNS
_REPORT_HEADER = ",".join(_PER_IMAGE_COLUMNS).encode()  # how every report `write_report` writes (and wrote) starts

MIN_IMAGES_FOR_KID = 10
"""Images per folder below which `translator eval` does not compute KID/FID: KID is unbiased on
any number of images, but from fewer than about ten its spread over subsets is as large as the
differences between models, so the figure would only mislead."""


@dataclass(frozen=True)
class Pairing:
    """Files matched by stem, and those left without a partner (reported, never dropped silently)."""

    pairs: list[tuple[Path, Path]]
    unmatched_inputs: list[Path]
    unmatched_targets: list[Path]

    def images(self) -> list[Path]:
        """Every image found in the input and target folders, paired or not."""
        return [p for pair in self.pairs for p in pair] + self.unmatched_inputs + self.unmatched_targets


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
    """Per-image rows and their means; the outputs' features and, once scored, their KID/FID."""

    rows: list[dict[str, float | str]] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)
    output_features: np.ndarray | None = None  # (N, 2048), when `evaluate_pairs` had a feature network
    realism: DistributionScores | None = None  # set by the caller from `score_realism`
    realism_note: str | None = None  # why there is no KID/FID, or what to know about it, for the user

    def means(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in ("psnr", "ssim", "d_realness_output", "d_realness_target"):
            vals = [float(r[key]) for r in self.rows if key in r and not math.isnan(float(r[key]))]
            finite = [v for v in vals if math.isfinite(v)]
            if vals:
                out[key] = sum(finite) / len(finite) if finite else math.inf
        return out


@dataclass(frozen=True)
class Comparison:
    """One input translated and judged: what the app's preview shows and `eval` reports."""

    input: np.ndarray  # (H, W, 3) uint8, as the model saw it (after `resize`)
    output: np.ndarray  # (H, W, 3) uint8, what `translate` would write
    target: np.ndarray | None = None  # (H, W, 3) uint8 at the output's size
    psnr: float | None = None
    ssim: float | None = None
    verdict_output: Verdict | None = None  # None when there is no verdict: `verdict_note` says why
    verdict_target: Verdict | None = None
    verdict_note: str | None = None  # why there is no verdict, in words for the user
    patch_map: PatchMap | None = None  # D's map of the output for the heat-map (see `discriminator_patch_map`)

    def heatmap(self, opacity: float = 0.6) -> np.ndarray | None:
        """The output with the discriminator's realness map over it (bright = judged real); None
        without a patch map."""
        if self.patch_map is None:
            return None
        heat = verdict_heatmap(self.patch_map, (self.output.shape[1], self.output.shape[0]))
        return overlay_heatmap(self.output, heat, opacity)


class Judge:
    """The discriminator that judges a translator's outputs, ready to use (or absent)."""

    def __init__(self, tr: Translator) -> None:
        found = tr.model.discriminator_for_output(tr.direction)
        self.net = prepare_net(found[0], tr.options.mode).to(tr.device) if found else None
        self.gan_mode = found[1].gan_mode if found else "vanilla"
        self.min_side = found[1].min_side if found else 1
        self.grid = patch_grid(found[1]) if found else None
        self.conditional = tr.model.card.kind == "pix2pix"
        self.device = tr.device

    def why_not(self, image: np.ndarray) -> str | None:
        """Why there is no verdict on `image` ((H, W, 3)), in words for the user; None when there is one."""
        if self.net is None:
            return "this model has no discriminator"
        height, width = image.shape[:2]
        if min(height, width) < self.min_side:
            return f"the image is {width}×{height}; this model's discriminator needs at least {self.min_side} px a side"
        return None

    def __call__(self, condition: np.ndarray, image: np.ndarray) -> Verdict | None:
        """D's verdict on `image` (and `condition` for pix2pix); None without a discriminator or
        for an image smaller than D's patch (no verdict rather than a made-up one)."""
        if self.net is None:
            return None
        if (why := self.why_not(image)) is not None:
            log.info("no discriminator verdict: %s", why)
            return None
        cond = imaging.to_tensor(condition).to(self.device) if self.conditional else None
        return discriminator_verdict(self.net, cond, imaging.to_tensor(image).to(self.device), self.gan_mode)

    def patch_map(self, condition: np.ndarray, image: np.ndarray) -> PatchMap | None:
        """D's realness map of `image` for the heat-map, borders mirrored (see
        `discriminator_patch_map`); None where `__call__` gives no verdict."""
        if self.net is None or self.grid is None or self.why_not(image) is not None:
            return None
        cond = imaging.to_tensor(condition).to(self.device) if self.conditional else None
        return discriminator_patch_map(self.net, cond, imaging.to_tensor(image).to(self.device), self.grid, self.gan_mode)


def compare_image(
    tr: Translator,
    src: Path,
    target: Path | None = None,
    *,
    judge: Judge | None = None,
    with_map: bool = True,
    token: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Translate `src`; with a `target`, measure PSNR/SSIM; with a discriminator, its verdict and
    (unless `with_map` is False, which saves a discriminator run) its patch map for the heat-map.

    Without `resize`, a target of another size than its input is an `ImageError` (the model keeps
    sizes). With `resize`, input and target are resized the same way first. `token` and
    `progress` go to `translate_array` (a cancel lands within one pass over a tile); the token is
    checked again before the discriminator runs.
    """
    judge = judge or Judge(tr)
    a = imaging.read_image(src)
    rgb = a.rgb
    if tr.options.resize:
        n = tr.options.resize
        rgb = np.asarray(Image.fromarray(rgb).resize((n, n), Image.Resampling.BICUBIC))
    out = translate_array(tr, rgb, token=token, progress=progress)
    if token is not None:
        token.raise_if_cancelled()
    judged = Comparison(
        rgb, out, verdict_output=judge(rgb, out), verdict_note=judge.why_not(out),
        patch_map=judge.patch_map(rgb, out) if with_map else None,
    )
    if target is None:
        return judged
    tgt = imaging.read_image(target).rgb
    if tr.options.resize:
        tgt = np.asarray(Image.fromarray(tgt).resize(out.shape[1::-1], Image.Resampling.BICUBIC))
    if tgt.shape != out.shape:
        raise ImageError(
            f"{target}: target is {tgt.shape[1]}×{tgt.shape[0]} but the output of {src.name} is "
            f"{out.shape[1]}×{out.shape[0]}; use --resize N to compare at one size"
        )
    return replace(judged, target=tgt, psnr=psnr(out, tgt), ssim=ssim(out, tgt), verdict_target=judge(rgb, tgt))


def evaluate_pairs(
    tr: Translator,
    pairs: Sequence[tuple[Path, Path | None]],
    *,
    heatmap_dir: Path | None = None,
    token: CancelToken | None = None,
    features: FeatureNet | None = None,
    feature_batch: int = 16,
) -> Generator[Progress, None, EvalSummary]:
    """Compare each input's translation with its target: a job yielding one event per pair.

    A pair without a target (an unpaired evaluation) gets the discriminator's verdict only. With
    `heatmap_dir` (and a discriminator), writes `<stem>_verdict.png` per image: the output with
    the discriminator's realness map laid over it (bright = judged real); check the folder first
    with `check_heatmap_dir`. With `features`, the outputs' features are computed along the way,
    `feature_batch` at a time (only that many resized outputs are held), into
    `EvalSummary.output_features` for `score_realism`.
    """
    token = token or CancelToken()
    summary = EvalSummary()
    clock = ProgressClock(len(pairs))
    judge = Judge(tr)
    prepared: list[torch.Tensor] = []
    parts: list[np.ndarray] = []
    for src, tgt in pairs:
        token.raise_if_cancelled()
        if features is not None and len(prepared) == feature_batch:  # outside the item: not its failure
            parts.append(features.features_of_prepared(torch.stack(prepared)))
            prepared.clear()
        try:
            c = compare_image(tr, src, tgt, judge=judge, with_map=heatmap_dir is not None)
            row: dict[str, float | str] = {"input": str(src), "target": "" if tgt is None else str(tgt)}
            if c.psnr is not None and c.ssim is not None:
                row.update(psnr=c.psnr, ssim=c.ssim)
            if c.verdict_output is not None and (tgt is None or c.verdict_target is not None):
                row["d_realness_output"] = c.verdict_output.mean_realness
                if c.verdict_target is not None:
                    row["d_realness_target"] = c.verdict_target.mean_realness
                heat = c.heatmap()
                if heatmap_dir is not None and heat is not None:
                    imaging.write_image(heatmap_path(heatmap_dir, src), heat)
            if features is not None:
                prepared.append(features.prepare(c.output))
            summary.rows.append(row)
            metrics = {k: float(v) for k, v in row.items() if not isinstance(v, str)}
            yield clock.tick(src, ItemResult(src, "done", None, metrics=metrics))
        except (ImageError, OSError) as exc:
            summary.failed.append(ItemResult(src, "failed", None, str(exc)))
            yield clock.tick(src, summary.failed[-1])
        except (ValueError, RuntimeError, TranslatorError) as exc:  # a metric or the model cannot take this image
            log.debug("evaluating %s failed", src, exc_info=True)
            summary.failed.append(ItemResult(src, "failed", None, f"{src}: cannot be evaluated: {exc}"))
            yield clock.tick(src, summary.failed[-1])
    if features is not None:
        if prepared:
            parts.append(features.features_of_prepared(torch.stack(prepared)))
        summary.output_features = np.concatenate(parts) if parts else np.zeros((0, FEATURE_DIM))
    return summary


def score_realism(summary: EvalSummary, targets: Sequence[Path], net: FeatureNet, *,
                  token: CancelToken | None = None) -> Generator[Progress, None, DistributionScores]:
    """KID and FID of the outputs `evaluate_pairs` featured (it must have had `features=net`)
    against the `targets` (every image of the target folder, paired or not): a job over the
    targets' features. Unreadable targets are skipped and named in the scores' `skipped`."""
    if summary.output_features is None:
        raise ValueError("evaluate_pairs ran without a feature network: pass features= to it first")
    skipped: list[str] = []
    real = yield from features_of_folder(list(targets), net, token=token, skipped=skipped)
    return scores_of_features(real, summary.output_features, skipped)


def heatmap_path(folder: Path, src: Path) -> Path:
    """Where `evaluate_pairs` writes the heat-map of input `src`."""
    return Path(folder) / fitting_name(src.stem, "_verdict.png")  # within the file system's name limit


def _same_file(path: Path, others: Sequence[Path]) -> Path | None:
    """The first of `others` that is the file `path` is (also through a link), else None."""
    st = path.stat()
    for other in others:
        try:
            o = other.stat()
        except OSError:
            continue
        if (o.st_dev, o.st_ino) == (st.st_dev, st.st_ino):
            return other
    return None


def _is_report(path: Path) -> bool:
    """True when `path` starts as every report `write_report` writes does."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_REPORT_HEADER)) == _REPORT_HEADER
    except OSError:
        return False


def check_report_path(path: Path, pairing: Pairing, *, overwrite: bool = False) -> None:
    """Refuse, before any work, a report path `write_report` must not or cannot write.

    Never one of `pairing`'s images; an existing file that is not a report of `translator eval`
    only with `overwrite`; a folder never. A missing or unwritable folder is an `OutputError`
    (checked by creating a file there, as permission bits do not tell).
    """
    path = Path(path)
    if path.is_dir():
        raise TranslatorError(f"{path}: is a folder; give the report a file name, such as {path / 'report.csv'}")
    if path.exists():
        if _same_file(path, pairing.images()) is not None:
            raise TranslatorError(f"{path}: is one of the images being evaluated; write the report elsewhere")
        if not overwrite and not _is_report(path):
            raise TranslatorError(f"{path}: exists and is not a report of translator eval; pass --overwrite to "
                                  "replace it, or choose another file")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: cannot write the report there: the folder {path.parent} does not exist; "
                          "create it or choose another path")
    try:
        check_writable(path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report there ({exc.strerror or exc}); choose another path "
                          f"or make {path.parent} writable") from exc


def check_heatmap_dir(folder: Path, pairing: Pairing, inputs: Path, targets: Path, *, overwrite: bool = False,
                      unpaired: bool = False) -> None:
    """Refuse, before any work, a heat-map folder `evaluate_pairs` must not or cannot write into.

    Never the `inputs` or `targets` folder or one inside them (a heat-map could replace an input
    named like one, and would be taken for an input by the next run); an existing
    `<stem>_verdict.png` of one of the inputs evaluated (`pairing`'s paired inputs, or with
    `unpaired` all its inputs) only with `overwrite`. The folder is created; an unwritable one is
    an `OutputError`.
    """
    folder = Path(folder)
    where = folder.resolve()
    for given in (inputs, targets):
        root = Path(given).resolve()
        if where == root or root in where.parents:
            raise TranslatorError(f"{folder}: the heat-maps may not go into the input or target folder ({given}); "
                                  "choose another folder")
    if not overwrite:
        sources = pairing.unmatched_inputs if unpaired else [src for src, _ in pairing.pairs]
        existing = [p for p in (heatmap_path(folder, src) for src in sources) if os.path.lexists(p)]
        if existing:
            more = f" (and {len(existing) - 1} more of the heat-maps to write)" if len(existing) > 1 else ""
            raise TranslatorError(f"{existing[0]}: exists{more}; pass --overwrite to replace the heat-maps, or "
                                  "choose another folder")
    require_writable(folder, "the heat-maps", "another folder")


def realism_cells(summary: EvalSummary) -> dict[str, str]:
    """The report's folder-level cells (`REALISM_COLUMNS`): KID (mean and spread over subsets),
    FID, the image counts they came from, and a note (the small-folder warning, skipped files, or
    why there is no KID/FID)."""
    r = summary.realism
    notes = [n for n in (summary.realism_note, r.warning if r else None) if n]
    if r is None:
        return {"realism_note": shown(" ".join(notes))} if notes else {}
    if r.skipped:
        notes.append(f"{len(r.skipped)} unreadable target image(s) left out: " + "; ".join(r.skipped))
    return {"kid_mean": f"{r.kid_mean:.8g}", "kid_std": f"{r.kid_std:.8g}", "fid": f"{r.fid:.6f}",
            "n_target": str(r.n_real), "n_translated": str(r.n_fake), "realism_note": shown(" ".join(notes))}


def write_report(path: Path, summary: EvalSummary) -> Path:
    """Per-image CSV (atomic), with a final `mean` row that also holds the folder-level KID/FID
    (`realism_cells`). File names are written as `shown` shows them (a byte that is not UTF-8 as
    `\\xff`, control characters escaped), so any name fits the UTF-8 file. The folder must exist
    (`check_report_path`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in summary.rows:
        w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else shown(v)) for k, v in row.items()})
    w.writerow({"input": "mean", **{k: f"{v:.6f}" for k, v in summary.means().items()}, **realism_cells(summary)})
    write_bytes_atomic(Path(path), buf.getvalue().encode(), make_parents=False)
    return Path(path)

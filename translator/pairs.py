"""Training pairs from a folder of photos: the photo is the target (B), a made input is A.

pix2pix needs (input, target) pairs, and an artist has photos, not sketch/photo pairs. Each kind
makes the input from the photo itself, so the pair lines up pixel for pixel:

- `lineart`: clean dark lines on white, like a pencil sketch. Canny edges of the photo after an
  edge-preserving smoothing, with thresholds from the photo's own gradient statistics (a
  percentile of the gradient magnitude, so dim and contrasty photos both give lines, raised
  until the edges cover at most 6 % of the picture, so fur and foliage do not fill the page),
  specks removed (small connected components), then drawn anti-aliased with a width drawn per
  image (1–3 px at 256², scaled with `size`) and a varied darkness (black to dark grey), so
  hand-drawn lines are in the range trained on.
- `edges`: plain 1-px Canny edges (the same smoothing and thresholds, no speck removal), black
  on white like the reference's edges2shoes (its edges are black lines on white).
- `gray`: the luminance as three channels, for colourising.
- `blur`: a Gaussian blur, sigma drawn per image (1–3 px at 256²), for sharpening.
- `downscale`: down by 4 (area) and back up (bicubic), for upscaling.

Crops: variant 0 is the centre square of the photo (its short side), variant N > 0 a random
square of 60–100 % of the short side at a random place; each is resized to `size`² (area when
shrinking, bicubic when enlarging). The random draws of a (photo, variant) depend only on the
seed, the photo's name and the variant, so a rerun that skips finished pairs makes the rest
exactly as an uninterrupted run would.

Layout written: `out/A/<stem>[_vN].png` (made input), `out/B/<same>.png` (the photo's crop) and
`out/pairs.json` (how they were made, with the input look of line kinds as a model card's
`input_style`), ready for `translator train pix2pix --data out`. OpenCV does the image work.
"""
from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from translator import __version__, imaging
from translator._fs import check_writable, is_stale_partial, write_bytes_atomic
from translator.checkpoint import InputStyle, read_card
from translator.choices import PAIR_KINDS, PairKind, check_choice
from translator.datasets import DatasetScan, scan_dataset
from translator.errors import ImageError, OutputError, TranslatorError
from translator.jobs import CancelToken, ItemResult, Progress, ProgressClock

log = logging.getLogger(__name__)

MANIFEST_NAME = "pairs.json"
REFERENCE_SIZE = 256  # line widths and blur sigmas are given at this size and scaled with `size`
MIN_CROP = 0.6  # a random crop covers at least this share of the photo's short side
LINE_WIDTHS = (1.0, 3.0)  # lineart stroke width range, px at REFERENCE_SIZE
BLUR_SIGMAS = (1.0, 3.0)  # blur sigma range, px at REFERENCE_SIZE
DOWNSCALE = 4
MAX_EDGE_DENSITY = 0.06  # share of a photo's pixels its 1-px edges may cover (before line width)
# Manifest fields that decide how a pair looks: a rerun into a folder must agree on them.
_MAKING = ("kind", "size", "seed")


def input_style(kind: PairKind, size: int = REFERENCE_SIZE) -> InputStyle | None:
    """How inputs of `kind` made at `size`² look (for a model card), None for photo-like kinds."""
    scale = size / REFERENCE_SIZE
    if kind == "lineart":
        lo, hi = (w * scale for w in LINE_WIDTHS)
        return InputStyle(f"dark pencil-like lines on white, {lo:g}–{hi:g} px wide", "#000000", "#ffffff",
                          round(sum(LINE_WIDTHS) / 2 * scale, 2))
    if kind == "edges":
        return InputStyle("thin black edge lines (Canny) on white", "#000000", "#ffffff", 1.0)
    return None


# --- one photo ------------------------------------------------------------------------------------


def _gray(rgb: np.ndarray) -> np.ndarray:
    g: np.ndarray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return g


def _edge_map(rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: Canny edges of the smoothed photo, thresholds from its own gradients.

    An edge-preserving (bilateral) filter first flattens texture (fur, foliage) that would
    otherwise fill a sketch with scribbles. The high threshold starts at the 85th percentile of the
    Sobel gradient magnitude (the strongest 15 % of gradients start lines; the low one is half of
    it) and rises until at most `MAX_EDGE_DENSITY` of the pixels are edges, so a busy photo gives
    its main contours, not every blade of grass; a floor keeps flat images blank instead of
    tracing noise.
    """
    h, w = rgb.shape[:2]
    scale = min(h, w) / REFERENCE_SIZE
    gray = _gray(rgb)
    flat = cv2.bilateralFilter(gray, max(3, round(7 * scale)) | 1, 30, 4 * scale)
    smooth = cv2.GaussianBlur(flat, (0, 0), max(0.7, scale))
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    high = max(40.0, float(np.percentile(cv2.magnitude(gx, gy), 85)))
    for _ in range(8):
        mask: np.ndarray = cv2.Canny(smooth, 0.5 * high, high, L2gradient=True) > 0
        if mask.mean() <= MAX_EDGE_DENSITY:
            break
        high *= 1.3
    return mask


def _without_specks(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """`mask` without its 8-connected components smaller than `min_pixels`."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # the background
    kept: np.ndarray = keep[labels]
    return kept


def _lineart(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(h, w) / REFERENCE_SIZE
    lines = _without_specks(_edge_map(rgb), max(4, round(12 * scale)))
    width = rng.uniform(*LINE_WIDTHS) * scale
    ink = rng.uniform(0.0, 50.0)  # pencil darkness: black to dark grey
    # Anti-aliased strokes: coverage falls from 1 to 0 across half a pixel at the stroke's edge.
    distance = cv2.distanceTransform(np.where(lines, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    coverage = np.clip(width / 2 + 0.5 - distance, 0.0, 1.0)
    page = 255.0 - coverage * (255.0 - ink)
    return _rgb(np.rint(page).astype(np.uint8))


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


def make_input(rgb: np.ndarray, kind: PairKind, *, rng: np.random.Generator) -> np.ndarray:
    """The made input of `kind` for one photo crop: (H, W, 3) uint8 like `rgb`, pixel-aligned.

    Pure: the same `rgb`, `kind` and generator state give the same image. `rng` draws the line
    width and darkness (lineart) or the blur sigma (blur); other kinds draw nothing.
    """
    check_choice("kind", kind, PAIR_KINDS)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    if kind == "lineart":
        return _lineart(rgb, rng)
    if kind == "edges":
        return _rgb(np.where(_edge_map(rgb), 0, 255).astype(np.uint8))
    if kind == "gray":
        return _rgb(_gray(rgb))
    if kind == "blur":
        sigma = rng.uniform(*BLUR_SIGMAS) * min(h, w) / REFERENCE_SIZE
        blurred: np.ndarray = cv2.GaussianBlur(np.ascontiguousarray(rgb), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        return blurred
    small = cv2.resize(rgb, (max(1, round(w / DOWNSCALE)), max(1, round(h / DOWNSCALE))), interpolation=cv2.INTER_AREA)
    up: np.ndarray = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return up


def crop_square(rgb: np.ndarray, size: int, variant: int, rng: np.random.Generator) -> np.ndarray:
    """The `size`² crop of a photo for `variant`: 0 the centre square, N > 0 a random square of
    60–100 % of the short side at a random place. Area resampling when shrinking, bicubic when
    enlarging."""
    h, w = rgb.shape[:2]
    short = min(h, w)
    if variant == 0:
        side = short
        y, x = (h - side) // 2, (w - side) // 2
    else:
        side = max(1, round(short * rng.uniform(MIN_CROP, 1.0)))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    square = rgb[y : y + side, x : x + side]
    interpolation = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    out: np.ndarray = cv2.resize(np.ascontiguousarray(square), (size, size), interpolation=interpolation)
    return out


def _rng(seed: int, name: str, variant: int) -> np.random.Generator:
    """The draws of one (photo, variant): independent of which other photos the job has."""
    return np.random.default_rng([seed, zlib.crc32(os.fsencode(name)), variant])  # any name the file system has


def make_pair(rgb: np.ndarray, kind: PairKind, *, size: int, variant: int, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) for one photo and variant: B the `size`² crop, A the input made from B."""
    rng = _rng(seed, name, variant)
    b = crop_square(rgb, size, variant, rng)
    return make_input(b, kind, rng=rng), b


# --- a folder -------------------------------------------------------------------------------------


@dataclass
class PairsSummary:
    """What `make_pairs` did: pairs written and skipped (the A paths), photos that failed, the
    manifest."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)
    manifest: Path | None = None


def _pair_name(stem: str, variant: int) -> str:
    return stem if variant == 0 else f"{stem}_v{variant}"


def _resolved(path: Path) -> Path:
    return Path(path).expanduser().resolve()


def _check_folders(photos: Path, out: Path) -> None:
    src, dst = _resolved(photos), _resolved(out)
    if dst == src or src in dst.parents:
        raise TranslatorError(
            f"{out}: the dataset folder is inside the photo folder {photos}; its pairs would be read as photos "
            "next time. Choose a dataset folder outside it")


def _stems(photos: Path, files: list[Path]) -> tuple[dict[Path, str], dict[Path, ItemResult]]:
    """Each photo's pair name (its path under `photos` without suffix, sub-folders joined by
    `__`) and a failure for each photo whose name another photo already took."""
    names: dict[Path, str] = {}
    taken: dict[str, Path] = {}
    clashes: dict[Path, ItemResult] = {}
    for f in files:
        stem = "__".join(f.relative_to(photos).with_suffix("").parts)
        if stem in taken:
            clashes[f] = ItemResult(f, "failed", None, f"{f}: makes the same pair name ({stem}) as {taken[stem]}; "
                                                      "rename one of them")
        else:
            taken[stem] = f
            names[f] = stem
    return names, clashes


def _complete(path: Path) -> bool:
    # Pairs are written atomically, so an existing, non-empty file is a finished one.
    return path.is_file() and path.stat().st_size > 0


def _manifest(kind: PairKind, size: int, variants: int, seed: int, photos: Path, counts: dict[str, int]) -> dict[str, Any]:
    style = input_style(kind, size)
    d: dict[str, Any] = {
        "kind": kind,
        "size": size,
        "variants": variants,
        "seed": seed,
        "made_by": f"translator {__version__} (translator pairs)",
        "photos": photos.name,
        "pairs": counts,
    }
    if style is not None:
        d["input_style"] = style.to_dict()
    return d


def read_pairs_manifest(root: Path) -> dict[str, Any] | None:
    """The `pairs.json` of a dataset folder made by `make_pairs`; None when there is none or it
    is unreadable (logged: a dataset stays usable without it)."""
    path = Path(root) / MANIFEST_NAME
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("%s: not a readable pairs manifest (%s); ignored", path, exc)
        return None
    if not isinstance(d, dict):
        log.warning("%s: not a pairs manifest (a JSON object); ignored", path)
        return None
    return d


def manifest_input_style(manifest: dict[str, Any]) -> InputStyle | None:
    """The input look a pairs manifest records, None when it records none or a malformed one."""
    if manifest.get("input_style") is None:
        return None
    try:
        return InputStyle.from_dict(manifest["input_style"])
    except ValueError as exc:
        log.warning("pairs manifest: %s; the input look is not carried", exc)
        return None


def _check_same_making(out: Path, manifest: dict[str, Any]) -> None:
    old = read_pairs_manifest(out)
    if old is None:
        return
    differ = [k for k in _MAKING if old.get(k) != manifest[k]]
    if differ:
        was = ", ".join(f"{k} {old.get(k)}" for k in differ)
        now = ", ".join(f"{k} {manifest[k]}" for k in differ)
        raise TranslatorError(
            f"{out}: its pairs were made with {was}, not {now}; mixing them would give an inconsistent dataset. "
            "Choose another dataset folder, or remake them all (--overwrite)")


def make_pairs(
    photos: Path,
    out: Path,
    *,
    kind: PairKind,
    size: int = 256,
    variants: int = 1,
    seed: int = 0,
    recursive: bool = False,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> Generator[Progress, None, PairsSummary]:
    """Make training pairs from every photo in `photos` into `out/A/` and `out/B/`: a job (see
    `translator.jobs`), one event per photo.

    Each photo gives `variants` pairs (crops: see the module docstring). Finished pairs are
    skipped unless `overwrite` (a rerun continues an interrupted one). A photo that cannot be read
    is a failed item naming the file and why; the job goes on. A and B of a pair are both
    written or neither: B is written only after A, and A is removed if B fails; a cancel (checked
    between photos) raises `JobCancelled` leaving only complete pairs. A dataset folder that cannot
    take files stops the job with `OutputError` before the first photo. Refuses (`TranslatorError`) a dataset folder equal to
    or inside `photos`, and a folder whose `pairs.json` says its pairs were made another way
    (unless `overwrite`). Writes `out/pairs.json` (atomic) before the first pair and, with the
    counts, at the end.
    """
    check_choice("kind", kind, PAIR_KINDS)
    if size < 8 or variants < 1:
        raise ValueError(f"size must be at least 8 and variants at least 1 (got size {size}, variants {variants})")
    token = token or CancelToken()
    photos, out = Path(photos), Path(out)
    _check_folders(photos, out)
    files = imaging.list_images(photos, recursive=recursive)
    manifest = _manifest(kind, size, variants, seed, photos, {})
    if not overwrite:
        _check_same_making(out, manifest)
    a_dir, b_dir = out / "A", out / "B"
    for folder in (a_dir, b_dir):
        try:
            check_writable(folder)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write the pairs here ({exc.strerror or exc}); "
                              "choose another dataset folder or make this one writable") from exc
        for f in folder.iterdir():
            if is_stale_partial(f):
                f.unlink(missing_ok=True)  # left by a killed run
    manifest_path = out / MANIFEST_NAME
    write_bytes_atomic(manifest_path, json.dumps(manifest, indent=1).encode())
    names, clashes = _stems(photos, files)
    summary = PairsSummary(manifest=manifest_path)
    clock = ProgressClock(len(files))
    for photo in files:
        token.raise_if_cancelled()
        if photo in clashes:
            summary.failed.append(clashes[photo])
            yield clock.tick(photo, clashes[photo])
            continue
        targets = [(a_dir / f"{n}.png", b_dir / f"{n}.png") for n in (_pair_name(names[photo], v) for v in range(variants))]
        todo = [v for v, (a, b) in enumerate(targets) if overwrite or not (_complete(a) and _complete(b))]
        if not todo:
            summary.skipped += [a for a, _b in targets]
            yield clock.tick(photo, ItemResult(photo, "skipped", targets[0][0]), processed=False)
            continue
        try:
            rgb = imaging.read_image(photo).rgb
            for v in todo:
                a_img, b_img = make_pair(rgb, kind, size=size, variant=v, seed=seed, name=names[photo])
                write_pair(targets[v], a_img, b_img)
                summary.written.append(targets[v][0])
        except (ImageError, OSError, ValueError, cv2.error) as exc:
            text = str(exc)
            result = ItemResult(photo, "failed", None, text if text.startswith(str(photo)) else f"{photo}: {text}")
            summary.failed.append(result)
            yield clock.tick(photo, result)
            continue
        summary.skipped += [targets[v][0] for v in range(variants) if v not in todo]
        yield clock.tick(photo, ItemResult(photo, "written", targets[todo[0]][0]))
    counts = {"written": len(summary.written), "skipped": len(summary.skipped), "failed photos": len(summary.failed)}
    write_bytes_atomic(manifest_path, json.dumps(_manifest(kind, size, variants, seed, photos, counts), indent=1).encode())
    log.info("pairs: %s", counts)
    return summary


def write_pair(paths: tuple[Path, Path], a: np.ndarray, b: np.ndarray, *, make_parents: bool = False) -> None:
    """Write A, then B (each atomically); if B fails, remove A: a pair is complete or absent.
    Used by `make_pairs` and by the Sketch tab's "Add to dataset"."""
    a_path, b_path = paths
    imaging.write_image(a_path, a, make_parents=make_parents)
    try:
        imaging.write_image(b_path, b, make_parents=make_parents)
    except BaseException:
        a_path.unlink(missing_ok=True)
        raise


def preview_pairs(photos: Path, kind: PairKind, size: int = 256, count: int = 4, seed: int = 0,
                  *, recursive: bool = False, token: CancelToken | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to `count` (A, B) pairs as `make_pairs` makes them (variant 0), in memory, nothing
    written: for the app to show before training. Photos are taken evenly across the folder;
    unreadable ones are passed over. `token` is checked before each photo (a superseded preview
    of large photos stops early)."""
    check_choice("kind", kind, PAIR_KINDS)
    photos = Path(photos)
    files = imaging.list_images(photos, recursive=recursive)
    names, _clashes = _stems(photos, files)
    step = max(1, len(files) // max(1, count))
    order = files[::step] + [f for i, f in enumerate(files) if i % step]
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for photo in order:
        if len(out) >= count:
            break
        if token is not None:
            token.raise_if_cancelled()
        if photo not in names:
            continue
        try:
            rgb = imaging.read_image(photo).rgb
        except (ImageError, OSError) as exc:
            log.info("preview: %s", exc)
            continue
        out.append(make_pair(rgb, kind, size=size, variant=0, seed=seed, name=names[photo]))
    return out


# --- a folder of photos, for the app's Fine-tune tab -------------------------------------------


@dataclass(frozen=True)
class PhotoFolder:
    """A folder that holds photos but no dataset layout: pairs can be made from it."""

    root: Path
    count: int  # images directly inside
    size: int  # the pair size to offer: the starting model's training size, else 256

    def describe(self) -> str:
        return f"{self.count} photo{'' if self.count == 1 else 's'}, no pairs yet: make training pairs from them."


def scan_or_photos(root: Path, *, paired: bool, start_model: Path | None) -> DatasetScan | PhotoFolder:
    """`scan_dataset(root)`, or, when `root` holds images in no layout it recognises, a `PhotoFolder`
    (its pair size read from `start_model`'s card). Raises the scan's `TranslatorError` otherwise.
    Reads files: call it on a worker."""
    try:
        return scan_dataset(root, paired=paired)
    except TranslatorError:
        count = len(imaging.list_images(root)) if root.is_dir() else 0
        if count == 0:
            raise
    size = 256
    if start_model is not None:
        try:
            size = read_card(start_model).image_size
        except (TranslatorError, OSError) as exc:
            log.warning("%s: cannot read its training size, offering %d: %s", start_model, size, exc)
    return PhotoFolder(root, count, size)


def default_pairs_folder(photos: Path, kind: str) -> Path:
    """Where pairs go unless the user picks a folder: `<photos>_<kind>_pairs` beside the photo folder."""
    return photos.parent / f"{photos.name}_{kind}_pairs"

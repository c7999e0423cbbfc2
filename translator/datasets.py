"""Training data from folders: finding the layout, splitting off validation, augmenting, loading.

A dataset folder comes in one of the layouts the reference's users already have:

- `A/` + `B/`: paired by file name (stem) — or unpaired when the names do not match;
- `trainA/` + `trainB/`: unpaired, as CycleGAN's datasets (`testA/`, `testB/` are ignored);
- `train/` with side-by-side `AB` images (A on the left half, B on the right), as pix2pix's
  "aligned" datasets (`test/` is ignored); or such images directly in the folder.

`scan_dataset` recognises the layout and returns the file lists (`DatasetScan`). A file of a paired
folder without a partner is excluded from training but *listed* (`unmatched_a`/`unmatched_b`,
`describe()`), never dropped silently; so is a file that cannot be used — empty, not an image,
unreadable, too large, a folder named like an image (`unreadable`, with the reason; the header
of every file is checked, the pixels are not decoded). Pixel data truncated past a valid header
shows only when the file is loaded: the datasets then raise `ImageError` naming it. Validation comes from a `val/` folder (`val/A` + `val/B`,
`valA/` + `valB/`, or `AB` images in `val/`) when there is one, else from a seeded holdout chosen
by a hash of each file's name, so the same files are held out on every call and adding images moves
few of them.

`PairedDataset` and `UnpairedDataset` turn the lists into `float32 (3, crop, crop)` tensors in
`[-1, 1]` with the reference's augmentation (`Augment`: resize 286 -> random crop 256 -> random
horizontal flip), the same crop and flip for both sides of a pair. Every random choice of item `i`
comes from a generator seeded by `(seed, epoch, i)`, so a sample does not depend on the number of
workers or the order items are asked for — what exact resume needs. `make_loader` wraps them in a
`DataLoader` whose shuffle order is a function of `(seed, epoch)` and whose indices carry the epoch
to the worker processes (a worker holds a copy of the dataset, which `set_epoch` in the main
process does not reach).

Shortcuts, and what they give up:
- Validation with `resize_and_crop` resizes the whole image to `crop_size`² (the reference
  crops at random in its test phase too); it sees the full frame at a slightly different scale
  than training does.
- Images smaller than the crop are scaled up, keeping their aspect, until the crop fits (the
  reference's `scale_width` stretches their height instead).
- Side-by-side images of odd width lose their last column, so both halves have the same size.
- With `preprocess="none"` sizes only snap to a multiple of 4 (as the reference does); images of
  different sizes then cannot share a batch.
- Pairing ignores sub-folders: the images must lie directly inside `A/`, `B/`, `train/`, ...
"""
from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypedDict, get_args

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from translator import imaging
from translator.errors import ImageError, TranslatorError

log = logging.getLogger(__name__)

Layout = Literal["paired_folders", "aligned", "unpaired_folders"]
Preprocess = Literal["resize_and_crop", "crop", "scale_width_and_crop", "none"]
ValSource = Literal["folder", "holdout", "none"]

ACCEPTED_LAYOUTS = (
    "accepted layouts: A/ + B/ (paired by file name, or unpaired); trainA/ + trainB/ (unpaired, as "
    "CycleGAN's datasets); train/ holding side-by-side AB images (A left, B right, as pix2pix's "
    "datasets), or such AB images directly in the folder. Validation images may go in val/ "
    "(val/A/ + val/B/, valA/ + valB/, or AB images in val/)"
)

# paired=None pairs A/ and B/ when at least this share of A's names exist in B.
PAIRING_THRESHOLD = 0.5
# "About twice as wide as high", for AB images found directly in the dataset folder.
_AB_RATIO_TOLERANCE = 0.1
_LISTED_MAX = 10  # names listed by describe() and error messages before "and N more"


# ------------------------------------------------------------------------------------ scanning


@dataclass(frozen=True)
class DatasetScan:
    """The files of a dataset folder, by role. Paths are absolute or as given under `root`.

    Paired layouts align `train_a[i]` with `train_b[i]` (same name); the aligned layout has
    `train_a == train_b` (the AB files), and likewise for `val_*`. `unmatched_*` lists the files of
    paired folders (training or validation) that have no partner: excluded, but reported.
    `unreadable` lists the files that cannot be used, each with the reason (a message starting
    with the path); they are excluded, and so are their partners.
    """

    root: Path
    layout: Layout
    paired: bool
    train_a: list[Path]
    train_b: list[Path]
    val_a: list[Path]
    val_b: list[Path]
    unmatched_a: list[Path]
    unmatched_b: list[Path]
    val_source: ValSource
    train_dirs: tuple[str, ...] = ()  # the training folders, relative to root ("." for root itself)
    val_dirs: tuple[str, ...] = ()  # the validation folders when val_source == "folder"
    seed: int = 0  # the holdout's seed
    match_ratio: float | None = None  # share of A's names found in B, when pairing was inferred
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (file, why), excluded

    def describe(self) -> str:
        """A one-paragraph summary for people: layout, counts, where validation comes from, and
        the files left without a partner, by name."""
        dirs = " + ".join(f"{d}/" for d in self.train_dirs)
        if self.val_source == "folder":
            where = f"from {' + '.join(f'{d}/' for d in self.val_dirs)}"
        else:
            where = f"held out from the training files by name, seed {self.seed}"
        if self.layout == "unpaired_folders":
            text = f"unpaired ({dirs}): {len(self.train_a)} A and {len(self.train_b)} B images for training"
            if self.val_source == "none":
                text += "; no validation images (too few to hold any out)"
            else:
                text += f", {len(self.val_a)} A and {len(self.val_b)} B for validation ({where})"
        else:
            if self.layout == "aligned":
                how = f"side-by-side AB images in {dirs}, A on the left"
            else:
                how = f"{dirs} matched by name"
                if self.match_ratio is not None:
                    how += f"; detected as paired since {self.match_ratio:.0%} of the names in A also exist in B"
            text = f"paired ({how}): {_count(len(self.train_a), 'training pair')}"
            if self.val_source == "none":
                text += ", no validation pairs (too few to hold any out)"
            else:
                text += f", {_count(len(self.val_a), 'validation pair')} ({where})"
        unmatched = self.unmatched_a + self.unmatched_b
        if unmatched:
            text += (f"; {_count(len(unmatched), 'file')} without a partner, not used: "
                     f"{_listing([self._rel(p) for p in unmatched])}")
        if self.unreadable:
            partners = " (nor their partners)" if self.paired and self.layout != "aligned" else ""
            text += (f"; {_count(len(self.unreadable), 'file')} that cannot be used, left out{partners}: "
                     f"{_listing([f'{self._rel(p)} ({_reason(p, why)})' for p, why in self.unreadable])}")
        return text + "."

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def scan_dataset(
    root: Path,
    *,
    paired: bool | None = None,
    val_fraction: float = 0.1,
    max_val: int = 16,
    seed: int = 0,
) -> DatasetScan:
    """Recognise the layout of the dataset folder `root` and list its files.

    Layouts are tried in this order: `A/` + `B/`; `trainA/` + `trainB/`; `train/` (AB images);
    AB images directly in `root` (each about twice as wide as high). `paired` chooses between
    paired and unpaired training for the two-folder layouts: True pairs by name (and reports the
    files without a partner), False never pairs, None pairs `A/` + `B/` when at least half of A's
    names exist in B and leaves `trainA/` + `trainB/` unpaired (the reference's convention). AB
    images are paired by construction: `paired=False` with them is an error.

    Validation: a val folder when present (see the module's docstring), else a holdout of
    `max(1, min(max_val, round(val_fraction * n)))` of the `n` training samples (per side when
    unpaired), none when `n < 2` or when `val_fraction` or `max_val` is 0.

    Raises `TranslatorError` naming the folder (missing, empty, unknown layout, A without B, ...);
    `ValueError` for bad arguments.
    """
    root = Path(root)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if max_val < 0:
        raise ValueError(f"max_val must be >= 0, got {max_val}")
    if not root.exists():
        raise TranslatorError(f"{root}: no such folder")
    if not root.is_dir():
        raise TranslatorError(f"{root}: is a file, not a folder; choose the folder that holds the dataset")
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    holdout = _Holdout(val_fraction, max_val, seed)
    if "A" in subdirs or "B" in subdirs:
        scan = _scan_two_folders(root, ("A", "B"), paired, infer=True, holdout=holdout)
    elif "trainA" in subdirs or "trainB" in subdirs:
        scan = _scan_two_folders(root, ("trainA", "trainB"), paired, infer=False, holdout=holdout)
    elif "train" in subdirs:
        scan = _scan_aligned(root, root / "train", paired, holdout)
    else:
        scan = _scan_aligned(root, root, paired, holdout, subdirs=subdirs)
    scan = _set_aside_unusable(scan)
    if scan.unreadable:
        log.warning("%s: %s", root, scan.describe())
    else:
        log.info("%s: %s", root, scan.describe())
    return scan


def _set_aside_unusable(scan: DatasetScan) -> DatasetScan:
    """`scan` without the files whose header shows they cannot be used (and, when paired, without
    their partners), which go to `unreadable` with the reason."""
    files = scan.train_a + scan.train_b + scan.val_a + scan.val_b + scan.unmatched_a + scan.unmatched_b
    bad: dict[Path, str] = {}
    for f in dict.fromkeys(files):  # once each, in order (aligned layouts list a file twice)
        try:
            imaging.probe_image(f)
        except ImageError as exc:
            bad[f] = str(exc)
    if not bad:
        return scan

    def usable(a: list[Path], b: list[Path]) -> tuple[list[Path], list[Path]]:
        if scan.paired:  # pairs stay aligned
            kept = [(x, y) for x, y in zip(a, b) if x not in bad and y not in bad]
            return [x for x, _ in kept], [y for _, y in kept]
        return [x for x in a if x not in bad], [y for y in b if y not in bad]

    train_a, train_b = usable(scan.train_a, scan.train_b)
    val_a, val_b = usable(scan.val_a, scan.val_b)
    source = scan.val_source
    if source != "none" and (not val_a or not val_b):  # nothing left to validate on
        if source == "holdout" and not scan.paired:  # the other side's held-out files train instead
            train_a, train_b = sorted(train_a + val_a), sorted(train_b + val_b)
        val_a, val_b, source = [], [], "none"
    unreadable = list(bad.items())
    if not train_a or not train_b:
        raise TranslatorError(
            f"{scan.root}: no usable training images: "
            f"{_listing([f'{_rel(f, scan.root)} ({_reason(f, why)})' for f, why in unreadable])}")
    return replace(scan, train_a=train_a, train_b=train_b, val_a=val_a, val_b=val_b, val_source=source,
                   unmatched_a=[f for f in scan.unmatched_a if f not in bad],
                   unmatched_b=[f for f in scan.unmatched_b if f not in bad], unreadable=unreadable)


def _reason(path: Path, message: str) -> str:
    """An error message without the path it starts with."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


@dataclass(frozen=True)
class _Holdout:
    val_fraction: float
    max_val: int
    seed: int

    def size(self, n: int) -> int:
        if n < 2 or self.val_fraction == 0 or self.max_val == 0:
            return 0
        return min(n - 1, max(1, min(self.max_val, round(self.val_fraction * n))))

    def choose(self, keys: Sequence[str]) -> set[int]:
        """Indices of the held-out keys: the `size` smallest hashes of (seed, key). A hash rather
        than a shuffled list, so adding or removing files leaves the other choices alone."""
        def rank(i: int) -> bytes:
            return hashlib.blake2b(f"{self.seed}\0{keys[i]}".encode("utf-8", "surrogateescape"), digest_size=16).digest()

        return set(sorted(range(len(keys)), key=rank)[: self.size(len(keys))])


def _scan_two_folders(root: Path, names: tuple[str, str], paired: bool | None, *, infer: bool,
                      holdout: _Holdout) -> DatasetScan:
    a_dir, b_dir = root / names[0], root / names[1]
    for have, lack in ((a_dir, b_dir), (b_dir, a_dir)):
        if not lack.is_dir():
            raise TranslatorError(
                f"{root}: found {have.name}/ but no {lack.name}/; a dataset needs both "
                f"({names[0]}/ with the inputs, {names[1]}/ with the targets)")
    a_files, b_files = _images(a_dir), _images(b_dir)
    ratio: float | None = None
    if paired is None and infer:
        b_stems = {p.stem for p in b_files}
        ratio = sum(p.stem in b_stems for p in a_files) / len(a_files)
        paired = ratio >= PAIRING_THRESHOLD
        log.info("%s: %.0f%% of the names in %s/ exist in %s/: %s", root, 100 * ratio, names[0], names[1],
                 "paired" if paired else "unpaired")
        if not paired:
            ratio = None
    val_dirs = _two_val_folders(root, names)
    val_names = () if val_dirs is None else tuple(_rel(d, root) for d in val_dirs)
    source: ValSource
    if paired:
        pairs, lone_a, lone_b = _pair(a_dir, a_files, b_dir, b_files)
        if not pairs:
            raise TranslatorError(
                f"{root}: no file in {names[0]}/ has a partner of the same name in {names[1]}/ "
                f"(e.g. {a_files[0].name} and {b_files[0].name}); name each target like its input, "
                "or train an unpaired model (CycleGAN)")
        if val_dirs is not None:
            va, vb = _images(val_dirs[0]), _images(val_dirs[1])
            val_pairs, val_lone_a, val_lone_b = _pair(val_dirs[0], va, val_dirs[1], vb)
            if not val_pairs:
                raise TranslatorError(f"{root}: no validation file in {val_names[0]}/ has a partner of the same "
                                      f"name in {val_names[1]}/; name each target like its input")
            lone_a += val_lone_a
            lone_b += val_lone_b
            train, val, source = pairs, val_pairs, "folder"
        else:
            chosen = holdout.choose([p[0].stem for p in pairs])
            train = [p for i, p in enumerate(pairs) if i not in chosen]
            val = [p for i, p in enumerate(pairs) if i in chosen]
            source = "holdout" if val else "none"
        return DatasetScan(
            root=root, layout="paired_folders", paired=True,
            train_a=[p[0] for p in train], train_b=[p[1] for p in train],
            val_a=[p[0] for p in val], val_b=[p[1] for p in val],
            unmatched_a=lone_a, unmatched_b=lone_b, val_source=source,
            train_dirs=names, val_dirs=val_names, seed=holdout.seed, match_ratio=ratio)
    if val_dirs is not None:
        ta, tb, va, vb = a_files, b_files, _images(val_dirs[0]), _images(val_dirs[1])
        source = "folder"
    else:
        held_a, held_b = holdout.size(len(a_files)), holdout.size(len(b_files))
        if held_a and held_b:
            ca, cb = holdout.choose([p.name for p in a_files]), holdout.choose([p.name for p in b_files])
            ta = [p for i, p in enumerate(a_files) if i not in ca]
            va = [p for i, p in enumerate(a_files) if i in ca]
            tb = [p for i, p in enumerate(b_files) if i not in cb]
            vb = [p for i, p in enumerate(b_files) if i in cb]
            source = "holdout"
        else:
            ta, tb, va, vb, source = a_files, b_files, [], [], "none"
    return DatasetScan(
        root=root, layout="unpaired_folders", paired=False, train_a=ta, train_b=tb, val_a=va, val_b=vb,
        unmatched_a=[], unmatched_b=[], val_source=source,
        train_dirs=names, val_dirs=val_names, seed=holdout.seed)


def _two_val_folders(root: Path, names: tuple[str, str]) -> tuple[Path, Path] | None:
    """`val/A` + `val/B` or `valA/` + `valB/`, if present; an error if only half is there."""
    val = root / "val"
    candidates = [(val / "A", val / "B"), (root / "valA", root / "valB")]
    for va, vb in candidates:
        if va.is_dir() and vb.is_dir():
            return va, vb
        if va.is_dir() or vb.is_dir():
            have, lack = (va, vb) if va.is_dir() else (vb, va)
            raise TranslatorError(f"{root}: found {_rel(have, root)}/ but no {_rel(lack, root)}/; "
                                  "validation needs both, or neither (a holdout is then taken from the training files)")
    if val.is_dir():
        raise TranslatorError(f"{val}: a validation folder for {names[0]}/ + {names[1]}/ needs A/ and B/ "
                              "inside it (val/A/, val/B/); rename it if it is not meant for validation")
    return None


def _scan_aligned(root: Path, folder: Path, paired: bool | None, holdout: _Holdout,
                  subdirs: Sequence[str] = ()) -> DatasetScan:
    in_root = folder == root
    files = imaging.list_images(folder)
    if in_root:
        if not files:
            if subdirs:
                raise TranslatorError(f"{root}: layout not recognised: no images directly inside, and the "
                                      f"folders {_listing([d + '/' for d in subdirs])}; {ACCEPTED_LAYOUTS}")
            raise TranslatorError(f"{root}: no images (looked for {', '.join(sorted(imaging.IMAGE_EXTENSIONS))} files); "
                                  f"{ACCEPTED_LAYOUTS}")
        sizes = [(p, _peek_size(p)) for p in files]  # None: unreadable, reported by _set_aside_unusable
        not_ab = [(p, size) for p, size in sizes if size is not None and not _looks_ab(size)]
        if not_ab or all(size is None for _, size in sizes):
            p, size = not_ab[0] if not_ab else sizes[0]
            what = "could not be read" if size is None else f"is {size[0]}×{size[1]}"
            folders = f" and the folders {_listing([d + '/' for d in subdirs])}" if subdirs else ""
            raise TranslatorError(
                f"{root}: layout not recognised: {_count(len(files), 'image')} directly inside{folders}, "
                f"but not side-by-side AB images ({len(not_ab)} of them are not twice as wide as high: "
                f"{p.name} {what}); {ACCEPTED_LAYOUTS}")
    elif not files:
        raise TranslatorError(f"{folder}: no images; put the side-by-side AB training images (A on the left, "
                              f"B on the right) directly inside it; {ACCEPTED_LAYOUTS}")
    else:
        narrow = [p for p in files[:8] if (s := _peek_size(p)) is not None and s[0] <= s[1]]
        if len(narrow) == min(8, len(files)):
            log.warning("%s: the first images (e.g. %s) are not wider than high; side-by-side AB images "
                        "(A left, B right) were expected", folder, narrow[0].name)
    if paired is False:
        raise TranslatorError(
            f"{folder}: holds side-by-side AB images, which are paired; train a paired model (pix2pix) "
            "on them, or split them into trainA/ + trainB/ for an unpaired one (CycleGAN)")
    val_folder = root / "val"
    rel = "." if in_root else _rel(folder, root)
    source: ValSource
    val_dirs: tuple[str, ...]
    if not in_root and val_folder.is_dir():
        val = imaging.list_images(val_folder)
        if not val:
            raise TranslatorError(f"{val_folder}: no images; put side-by-side AB validation images in it, "
                                  "or remove it (a holdout is then taken from the training images)")
        train, source, val_dirs = files, "folder", ("val",)
    else:
        chosen = holdout.choose([p.name for p in files])
        train = [p for i, p in enumerate(files) if i not in chosen]
        val = [p for i, p in enumerate(files) if i in chosen]
        source, val_dirs = ("holdout" if val else "none"), ()
    return DatasetScan(
        root=root, layout="aligned", paired=True, train_a=train, train_b=list(train),
        val_a=val, val_b=list(val), unmatched_a=[], unmatched_b=[],
        val_source=source, train_dirs=(rel,), val_dirs=val_dirs, seed=holdout.seed)


def _images(folder: Path) -> list[Path]:
    """The images directly in `folder`; an error naming it when there are none."""
    files = imaging.list_images(folder)
    if not files:
        inner = sorted(p.name + "/" for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        hint = f" (it has the folders {_listing(inner)}: the images must lie directly inside)" if inner else ""
        raise TranslatorError(f"{folder}: no images{hint}; looked for "
                              f"{', '.join(sorted(imaging.IMAGE_EXTENSIONS))} files")
    return files


def _pair(a_dir: Path, a_files: list[Path], b_dir: Path,
          b_files: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path], list[Path]]:
    """Pairs matched by stem, sorted by A's name, and the files of each side without a partner."""
    a, b = _by_stem(a_dir, a_files), _by_stem(b_dir, b_files)
    pairs = [(a[k], b[k]) for k in sorted(a) if k in b]
    return pairs, [a[k] for k in sorted(a) if k not in b], [b[k] for k in sorted(b) if k not in a]


def _by_stem(folder: Path, files: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for f in files:
        if f.stem in found:
            raise TranslatorError(f"{folder}: two files share the name {f.stem!r} ({found[f.stem].name}, {f.name}), "
                                  "so their partner is ambiguous; rename or remove one")
        found[f.stem] = f
    return found


def _peek_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as shown (EXIF orientation applied) from the file's header, without decoding
    the pixels; None when unreadable. Only for recognising layouts: pixels come from `imaging`."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.format != "PNG" and im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90°
                w, h = h, w
            return w, h
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError, Image.DecompressionBombError):
        return None


def _looks_ab(size: tuple[int, int] | None) -> bool:
    if size is None:
        return False
    w, h = size
    return abs(w - 2 * h) <= max(2.0, _AB_RATIO_TOLERANCE * w)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED_MAX])
    return shown if len(names) <= _LISTED_MAX else f"{shown} and {len(names) - _LISTED_MAX} more"


# -------------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class Augment:
    """The reference's `--preprocess` family, sizes included, plus its `--no_flip` (as `flip`).

    - `resize_and_crop`: resize to `load_size`² (bicubic), random `crop_size`² crop;
    - `crop`: random `crop_size`² crop of the image as it is;
    - `scale_width_and_crop`: resize to width `load_size` keeping the aspect, random crop;
    - `none`: sizes snapped to a multiple of 4, no crop.
    Then a horizontal flip with probability 1/2 when `flip`. Validation (`train=False`) is
    deterministic: no flip, a centre crop — or, for `resize_and_crop`, a resize to `crop_size`².
    """

    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    preprocess: Preprocess = "resize_and_crop"

    def __post_init__(self) -> None:
        if self.preprocess not in get_args(Preprocess):
            raise ValueError(f"unknown preprocess {self.preprocess!r}: choose one of {', '.join(get_args(Preprocess))}")
        for name in ("load_size", "crop_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.preprocess in ("resize_and_crop", "scale_width_and_crop") and self.crop_size > self.load_size:
            raise ValueError(f"crop_size ({self.crop_size}) must not exceed load_size ({self.load_size}) "
                             f"with preprocess {self.preprocess!r}")


@dataclass(frozen=True)
class _Plan:
    """The geometry for one sample: resize to `size` (w, h), then crop, then maybe flip."""

    size: tuple[int, int]
    crop: tuple[int, int, int] | None  # (x, y, side) of the square crop, in the resized image
    flip: bool


def _plan(augment: Augment, size: tuple[int, int], rng: np.random.Generator | None) -> _Plan:
    """The geometry for an image of `size` (w, h): random with `rng`, the validation one without.
    Draws from `rng` in a fixed order (x, y, flip) so samples are reproducible."""
    w, h = size
    c, load = augment.crop_size, augment.load_size
    if augment.preprocess == "none":
        new = (max(4, int(round(w / 4) * 4)), max(4, int(round(h / 4) * 4)))  # the reference's make_power_2
        return _Plan(new, None, rng is not None and augment.flip and bool(rng.random() < 0.5))
    if augment.preprocess == "resize_and_crop":
        if rng is None:
            return _Plan((c, c), None, False)
        new = (load, load)
    elif augment.preprocess == "crop":
        new = _cover(w, h, c)
    else:  # scale_width_and_crop
        scaled_h = int(load * h / w)
        new = (load, scaled_h) if scaled_h >= c else (max(load, math.ceil(c * w / h)), c)
    nw, nh = new
    if rng is None:
        return _Plan(new, ((nw - c) // 2, (nh - c) // 2, c), False)
    x, y = int(rng.integers(0, nw - c + 1)), int(rng.integers(0, nh - c + 1))
    return _Plan(new, (x, y, c), augment.flip and bool(rng.random() < 0.5))


def _cover(w: int, h: int, side: int) -> tuple[int, int]:
    """The size of (w, h) scaled up, keeping its aspect, until a `side`² crop fits; unchanged if it does."""
    if w >= side and h >= side:
        return w, h
    s = side / min(w, h)
    return max(side, round(w * s)), max(side, round(h * s))


def _apply(rgb: np.ndarray, plan: _Plan) -> torch.Tensor:
    """(H, W, 3) uint8 -> float32 (3, h, w) in [-1, 1] through `plan`."""
    if (rgb.shape[1], rgb.shape[0]) != plan.size:
        rgb = np.asarray(Image.fromarray(rgb).resize(plan.size, Image.Resampling.BICUBIC))
    if plan.crop is not None:
        x, y, c = plan.crop
        rgb = rgb[y : y + c, x : x + c]
    if plan.flip:
        rgb = rgb[:, ::-1]
    return imaging.to_tensor(np.ascontiguousarray(rgb))[0]


def _rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, index])


# ------------------------------------------------------------------------------------ datasets


class Sample(TypedDict):
    """One item: `a` and `b` float32 (3, H, W) in [-1, 1]; `index` the dataset's index."""

    a: torch.Tensor
    b: torch.Tensor
    index: int


class TranslationDataset(Dataset[Sample]):
    """What both datasets share: the augmentation, the seed, the epoch, and how an index is read.

    An index is an `int` (the epoch set by `set_epoch` applies) or an `(epoch, index)` pair, as
    `make_loader`'s sampler gives, which reaches worker processes where `set_epoch` does not.
    """

    def __init__(self, augment: Augment, *, train: bool, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.augment = augment
        self.train = train
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose random crops and flips plain `int` indices get."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = epoch

    def __len__(self) -> int:
        raise NotImplementedError

    def _resolve(self, index: int | tuple[int, int]) -> tuple[int, int]:
        epoch, i = (int(index[0]), int(index[1])) if isinstance(index, tuple) else (self.epoch, int(index))
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n}")
        return epoch, i % n

    def _generator(self, epoch: int, index: int) -> np.random.Generator | None:
        return _rng(self.seed, epoch, index) if self.train else None


class PairedDataset(TranslationDataset):
    """Pairs for pix2pix: files `a[i]` and `b[i]`, or with `aligned` the halves of the AB file
    `a[i]` (A = left `w // 2` columns, B = the next `w // 2`). Both sides get the same geometry,
    chosen from A's size (a B of another size is resized to A's first).

    Unreadable files raise `ImageError` naming the file.
    """

    def __init__(self, a: Sequence[Path], b: Sequence[Path] | None, augment: Augment, *, aligned: bool,
                 train: bool, seed: int = 0) -> None:
        super().__init__(augment, train=train, seed=seed)
        self.a = [Path(p) for p in a]
        if aligned:
            if b is not None and [Path(p) for p in b] != self.a:
                raise ValueError("aligned (AB) data has one file per pair: pass b=None (or b equal to a)")
            self.b = list(self.a)
        else:
            if b is None or len(b) != len(self.a):
                raise ValueError(f"paired data needs as many B files as A files (got {len(self.a)} and "
                                 f"{'none' if b is None else len(b)})")
            self.b = [Path(p) for p in b]
        self.aligned = aligned

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, index: int | tuple[int, int]) -> Sample:
        epoch, i = self._resolve(index)
        a, b = self._load(i)
        plan = _plan(self.augment, (a.shape[1], a.shape[0]), self._generator(epoch, i))
        return {"a": _apply(a, plan), "b": _apply(b, plan), "index": i}

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self.aligned:
            ab = imaging.read_image(self.a[i]).rgb
            half = ab.shape[1] // 2
            if half == 0:
                raise ImageError(f"{self.a[i]}: {ab.shape[1]}×{ab.shape[0]} is too narrow for a side-by-side AB image")
            return ab[:, :half], ab[:, half : 2 * half]
        a, b = imaging.read_image(self.a[i]).rgb, imaging.read_image(self.b[i]).rgb
        if a.shape != b.shape:
            b = np.asarray(Image.fromarray(b).resize((a.shape[1], a.shape[0]), Image.Resampling.BICUBIC))
        return a, b


class UnpairedDataset(TranslationDataset):
    """Images for CycleGAN: item `i` is `a[i % len(a)]` with a B drawn at random (seeded by
    `(seed, epoch, i)`) when training, `b[i % len(b)]` when not. Each side gets its own crop and
    flip. The length is `max(len(a), len(b))`, as the reference's.
    """

    def __init__(self, a: Sequence[Path], b: Sequence[Path], augment: Augment, *, train: bool, seed: int = 0) -> None:
        super().__init__(augment, train=train, seed=seed)
        if not a or not b:
            raise ValueError(f"unpaired data needs images on both sides (got {len(a)} A and {len(b)} B)")
        self.a = [Path(p) for p in a]
        self.b = [Path(p) for p in b]

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, index: int | tuple[int, int]) -> Sample:
        epoch, i = self._resolve(index)
        rng = self._generator(epoch, i)
        j = int(rng.integers(len(self.b))) if rng is not None else i % len(self.b)
        a = imaging.read_image(self.a[i % len(self.a)]).rgb
        b = imaging.read_image(self.b[j]).rgb
        plan_a = _plan(self.augment, (a.shape[1], a.shape[0]), rng)
        plan_b = _plan(self.augment, (b.shape[1], b.shape[0]), rng)
        return {"a": _apply(a, plan_a), "b": _apply(b, plan_b), "index": i}


# ------------------------------------------------------------------------------------- loading


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields `(epoch, index)`: the order a function of `(seed, epoch)` (shuffled or not), or this
    rank's share of it with `distributed` (`DistributedSampler`, which pads the shares to equal
    length by repeating a few indices)."""

    def __init__(self, dataset: TranslationDataset, *, shuffle: bool, seed: int, epoch: int = 0,
                 distributed: bool = False, rank: int | None = None, world_size: int | None = None) -> None:
        self.n = len(dataset)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self._shares: DistributedSampler[int] | None = (
            DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
            if distributed else None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self._shares is not None:
            self._shares.set_epoch(self.epoch)
            order: list[int] = list(self._shares)
        elif self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)  # as DistributedSampler seeds
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        return iter([(self.epoch, i) for i in order])

    def __len__(self) -> int:
        return len(self._shares) if self._shares is not None else self.n


def make_loader(
    dataset: TranslationDataset,
    *,
    batch_size: int,
    shuffle: bool,
    workers: int,
    seed: int,
    epoch: int = 0,
    drop_last: bool = True,
    distributed: bool = False,
    pin_memory: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
) -> DataLoader[Sample]:
    """A `DataLoader` of `Sample` batches for `epoch` (change it with `set_loader_epoch`).

    The batches depend only on `(seed, epoch)` and the dataset's seed, not on `workers`: decoding
    and augmentation run in `workers` persistent processes (0: in this one). `distributed` gives
    this rank its share (rank and world size from the process group unless given).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    sampler = EpochSampler(dataset, shuffle=shuffle, seed=seed, epoch=epoch, distributed=distributed,
                           rank=rank, world_size=world_size)
    if drop_last and len(sampler) < batch_size:
        raise TranslatorError(f"{len(sampler)} sample(s) per process is fewer than one batch of {batch_size}; "
                              "lower the batch size or add images")
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=pin_memory,
                      drop_last=drop_last, persistent_workers=workers > 0)


def loader_batches(loader: DataLoader[Sample]) -> Iterator[dict[str, torch.Tensor]]:
    """The batches of one pass over `loader`. An engine error in a worker process (a file truncated
    past its header) is raised as itself: torch re-raises it with the worker's whole traceback as
    its message, whose last line is the original."""
    batches = iter(loader)
    while True:
        try:
            batch: dict[str, torch.Tensor] = next(batches)
        except StopIteration:
            return
        except TranslatorError as exc:
            last = str(exc).rstrip().splitlines()[-1]
            prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
            if str(exc).startswith("Caught ") and last.startswith(prefix):
                raise type(exc)(last[len(prefix):]) from None
            raise
        yield batch


def set_loader_epoch(loader: DataLoader[Sample], epoch: int) -> None:
    """Make the next pass over a `make_loader` loader (persistent workers included) be `epoch`'s."""
    sampler = loader.sampler
    if not isinstance(sampler, EpochSampler):
        raise TypeError("set_loader_epoch needs a loader made by make_loader")
    sampler.set_epoch(epoch)
    if isinstance(loader.dataset, TranslationDataset):
        loader.dataset.set_epoch(epoch)

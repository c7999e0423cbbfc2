"""The model zoo: the reference implementation's published pretrained models, downloaded and imported.

What: `list_models()` is the catalogue of the official pretrained generators of
junyanz/pytorch-CycleGAN-and-pix2pix (task, kind, architecture, URL); `get_model(entry)` is a job
that downloads one, checks that the bytes are a PyTorch checkpoint, imports it through the safe
importer that `translator import` and the app use too (`translator.reference.import_to_models`,
`torch.load(weights_only=True)`) and saves it as a model file in the user models folder, where
the app's picker finds it.

How a download behaves:
- bytes go to `<models>/.downloads/<kind>-<name>.pth.part`, next to a small JSON sidecar with the
  URL and the server's validators; an interrupted or cancelled download resumes from there with
  `Range: bytes=N-` (and `If-Range`, so a file replaced on the server starts over). A server that
  ignores the range (200) starts over; 416 on a complete part file means it is complete; a body
  shorter than its Content-Length is a truncation and is resumed.
- every socket operation has a timeout (`timeout_s`); an attempt that failed without adding to
  the part file is retried `retries` times with exponential backoff; one that added to it resets
  the count (and retries at once), so a flaky connection still finishes.
- a download is bounded: by size (`download_limit`: the catalogue's expected size or the size
  first recorded, plus 10 % and 1 MB; 2 GiB when neither is known), whether or not the server
  announces one — more is refused and the part file deleted; and by time (`deadline_s`, by
  default the limit at 50 KB/s, at least 120 s), so a server trickling bytes cannot hold it for
  ever — the part file is kept and the next try resumes.
- no checksums are published: the sha256 of the first successful download of each model is
  recorded in `<models>/zoo-checksums.json` (trust on first use); a later download whose bytes
  differ is still imported but logged as a warning and reported in the result.
- the model file is written atomically by `save_model`; the models folder never holds a partial
  model file. The part file is deleted once the model is saved, or when its bytes turn out not
  to be a checkpoint (an HTML error page, say).

What it gives up: a read blocked on a silent server notices a cancel or the deadline only when
its timeout ends, and the deadline is checked between reads of the body, not while the server
sends its headers; two processes downloading the same model at the same time share one part file
and spoil it.

The base URL (`DEFAULT_BASE`) can be replaced, for mirrors and tests, by the `base` argument or the
`TRANSLATOR_ZOO_BASE` environment variable; the paths below it stay those of the original site.
"""
from __future__ import annotations

import contextlib
import datetime
import difflib
import http.client
import json
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

from translator import __version__
from translator._fs import sha256_of, write_bytes_atomic
from translator.checkpoint import MODEL_SUFFIX, Kind, read_card
from translator.errors import CheckpointError, TranslatorError
from translator.jobs import CancelToken, Progress, rate_eta
from translator.networks import GeneratorSpec, build_generator
from translator.paths import user_models_dir
from translator.reference import ModelExists, check_model_name, import_to_models

log = logging.getLogger(__name__)

DEFAULT_BASE = "http://efrosgans.eecs.berkeley.edu"
BASE_ENV = "TRANSLATOR_ZOO_BASE"
FOLDERS: dict[str, str] = {"pix2pix": "pix2pix/models-pytorch", "cyclegan": "cyclegan/pretrained_models"}
CHECKSUMS_FILE = "zoo-checksums.json"
DOWNLOADS_DIR = ".downloads"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 1.0
CHUNK_SIZE = 256 * 1024
MAX_BACKOFF_S = 30.0
SIZE_MARGIN = 0.10  # a download may exceed the size the catalogue knows by this fraction …
SIZE_SLACK = 1 << 20  # … plus this many bytes (headers of the pickle or zip)
MAX_DOWNLOAD_BYTES = 2 << 30  # when the catalogue knows no size
MIN_DEADLINE_S = 120.0
SLOWEST_RATE = 50_000  # bytes/s: the default deadline lets the largest allowed file come this slowly

# (file name on the server, what goes in, what comes out). All pix2pix ones are U-Net 256 with
# BatchNorm and dropout (the generator only); all CycleGAN ones ResNet 9 blocks with InstanceNorm
# and no dropout (one generator, one direction).
_PIX2PIX: tuple[tuple[str, str, str], ...] = (
    ("edges2shoes", "shoe edges", "shoe photo"),
    ("sat2map", "satellite photo", "map"),
    ("map2sat", "map", "satellite photo"),
    ("facades_label2photo", "facade label map", "facade photo"),
    ("day2night", "day photo", "night photo"),
)
_CYCLEGAN: tuple[tuple[str, str, str], ...] = (
    ("apple2orange", "apple", "orange"),
    ("orange2apple", "orange", "apple"),
    ("summer2winter_yosemite", "summer (Yosemite)", "winter (Yosemite)"),
    ("winter2summer_yosemite", "winter (Yosemite)", "summer (Yosemite)"),
    ("horse2zebra", "horse", "zebra"),
    ("zebra2horse", "zebra", "horse"),
    ("monet2photo", "Monet painting", "photo"),
    ("style_monet", "photo", "Monet painting"),
    ("style_cezanne", "photo", "Cézanne painting"),
    ("style_ukiyoe", "photo", "ukiyo-e print"),
    ("style_vangogh", "photo", "Van Gogh painting"),
    ("sat2map", "satellite photo", "map"),
    ("map2sat", "map", "satellite photo"),
    ("cityscapes_photo2label", "street photo", "label map"),
    ("cityscapes_label2photo", "label map", "street photo"),
    ("facades_photo2label", "facade photo", "label map"),
    ("facades_label2photo", "label map", "facade photo"),
    ("iphone2dslr_flower", "iPhone flower photo", "DSLR flower photo"),
)
_ARCH: dict[str, tuple[str, str, str]] = {  # kind -> (arch, norm, in words)
    "pix2pix": ("unet_256", "batch", "U-Net 256 (unet_256), BatchNorm, dropout"),
    "cyclegan": ("resnet_9blocks", "instance", "ResNet 9 blocks (resnet_9blocks), InstanceNorm, no dropout"),
}


class ZooError(TranslatorError):
    """A zoo request cannot be served: unknown or ambiguous name, existing model, bad setting."""


class DownloadError(ZooError):
    """A zoo download failed: HTTP error, timeouts, or bytes that are not a checkpoint."""


@dataclass(frozen=True)
class ZooEntry:
    """One published pretrained generator.

    `name` is unique in the catalogue: the server's file name where only one family publishes it,
    `<kind>/<file name>` where both do (sat2map, map2sat, facades_label2photo). The generator maps
    `domains[0]` to `domains[1]` (`task` says it in words).
    """

    name: str
    remote: str  # the file's stem on the server
    kind: Kind
    task: str
    domains: tuple[str, str]
    arch: str
    norm: str
    architecture: str  # in words
    url: str
    size: int | None = None  # bytes the file should hold (its float32 weights); None: unknown

    @property
    def key(self) -> str:
        """`<kind>/<remote>`: accepted as a name for every entry, and the checksum record's key."""
        return f"{self.kind}/{self.remote}"

    @property
    def local_name(self) -> str:
        """The default model name (and file stem) in the models folder."""
        return self.name.replace("/", "-")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "task": self.task, "domains": list(self.domains),
            "arch": self.arch, "norm": self.norm, "architecture": self.architecture, "url": self.url,
        }


@dataclass(frozen=True)
class DownloadProgress(Progress):
    """A download event: `done`/`total` are bytes (`total` 0 while unknown), `rate` bytes/s.

    `stage`: "connect" (an attempt starts), "download" (bytes arrived), "retry" (an attempt failed,
    `message` says why and when the next one starts), "import" (checking and importing the file).
    """

    stage: str = "download"
    message: str = ""


@dataclass(frozen=True)
class ZooDownload:
    """What `get_model` did: the model file written and the bytes it came from."""

    entry: ZooEntry
    path: Path
    sha256: str
    size: int
    previous_sha256: str | None = None  # the first download's sha256, when this one differs
    requests: int = 1  # HTTP requests made (more than one: resumed or retried)

    @property
    def checksum_changed(self) -> bool:
        return self.previous_sha256 is not None


# --------------------------------------------------------------------------------------------
# catalogue


def zoo_base(base: str | None = None) -> str:
    """The site the models come from: `base`, else `$TRANSLATOR_ZOO_BASE`, else `DEFAULT_BASE`."""
    chosen = base if base is not None else os.environ.get(BASE_ENV) or DEFAULT_BASE
    if not re.match(r"^https?://[^/\s]+", chosen):
        origin = "the base argument" if base is not None else f"{BASE_ENV}" if os.environ.get(BASE_ENV) else "DEFAULT_BASE"
        raise ZooError(f"zoo base URL {chosen!r} (from {origin}) is not an http:// or https:// address")
    return chosen.rstrip("/")


def list_models(base: str | None = None) -> list[ZooEntry]:
    """Every published model, pix2pix first, with URLs under `zoo_base(base)`."""
    root = zoo_base(base)
    rows = [("pix2pix", r) for r in _PIX2PIX] + [("cyclegan", r) for r in _CYCLEGAN]
    counts: dict[str, int] = {}
    for _kind, (remote, _src, _dst) in rows:
        counts[remote] = counts.get(remote, 0) + 1
    entries: list[ZooEntry] = []
    for kind, (remote, src, dst) in rows:
        arch, norm, words = _ARCH[kind]
        entries.append(ZooEntry(
            name=remote if counts[remote] == 1 else f"{kind}/{remote}",
            remote=remote,
            kind="pix2pix" if kind == "pix2pix" else "cyclegan",
            task=f"{src} → {dst}",
            domains=(src, dst),
            arch=arch,
            norm=norm,
            architecture=words,
            url=f"{root}/{FOLDERS[kind]}/{remote}.pth",
            size=_weights_bytes(arch, norm),
        ))
    return entries


@cache
def _weights_bytes(arch: str, norm: str) -> int:
    """The bytes of a reference generator's state dict (64 filters, float32): what its published
    file holds, give or take the pickle's few KB. Counted on the meta device."""
    with torch.device("meta"):
        net = build_generator(GeneratorSpec(arch, 64, "batch" if norm == "batch" else "instance", False))
    return sum(t.numel() * t.element_size() for t in net.state_dict().values())


def find_entry(name: str, base: str | None = None) -> ZooEntry:
    """The entry called `name`: its zoo name, `<kind>/<file name>`, or the bare file name when
    only one family publishes it. Raises `ZooError` for an ambiguous or unknown name."""
    entries = list_models(base)
    wanted = name.strip()
    for e in entries:
        if wanted in (e.name, e.key, e.local_name):
            return e
    same = [e for e in entries if e.remote == wanted]
    if len(same) > 1:
        raise ZooError(f"zoo model {wanted!r} is published as both {' and '.join(e.name for e in same)}; give one of those")
    close = difflib.get_close_matches(wanted, [e.name for e in entries], n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; see `translator zoo list`"
    raise ZooError(f"no zoo model called {wanted!r}{hint}")


def model_path(entry: ZooEntry, local_name: str | None = None, models_dir: Path | None = None) -> Path:
    """Where `get_model` saves `entry` (default name: `entry.local_name`); `BadName` unless the
    name passes `translator.reference.check_model_name`."""
    name = check_model_name(entry.local_name if local_name is None else local_name)
    return (user_models_dir() if models_dir is None else Path(models_dir)) / f"{name}{MODEL_SUFFIX}"


def download_limit(entry: ZooEntry, models_dir: Path | None = None) -> int:
    """The most bytes a download of `entry` may bring: the larger of the catalogue's size and the
    size first recorded for it (see `recorded_checksums`), plus `SIZE_MARGIN` and `SIZE_SLACK`;
    `MAX_DOWNLOAD_BYTES` when neither is known."""
    recorded = recorded_checksums(models_dir).get(entry.key, {}).get("size")
    known = [n for n in (entry.size, recorded) if isinstance(n, int) and not isinstance(n, bool) and n > 0]
    return int(max(known) * (1 + SIZE_MARGIN)) + SIZE_SLACK if known else MAX_DOWNLOAD_BYTES


def partial_path(entry: ZooEntry, models_dir: Path | None = None) -> Path:
    """The part file an unfinished download of `entry` is kept in (resumed by the next try)."""
    folder = (user_models_dir() if models_dir is None else Path(models_dir)) / DOWNLOADS_DIR
    return folder / f"{entry.kind}-{entry.remote}.pth.part"


def checksums_path(models_dir: Path | None = None) -> Path:
    """The JSON file recording the sha256 first seen for each zoo model."""
    return (user_models_dir() if models_dir is None else Path(models_dir)) / CHECKSUMS_FILE


def recorded_checksums(models_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """`{entry.key: {"sha256", "size", "url", "first_seen"}}`; an unreadable file counts as empty
    (logged), so a damaged record never blocks a download."""
    path = checksums_path(models_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable checksum record (%s); starting a new one", path, exc)
        return {}
    if not isinstance(data, dict):
        log.warning("%s: not a checksum record (a JSON object is expected); starting a new one", path)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("sha256"), str)}


# --------------------------------------------------------------------------------------------
# the job


def get_model(
    entry: ZooEntry,
    *,
    local_name: str | None = None,
    models_dir: Path | None = None,
    overwrite: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    backoff_s: float = DEFAULT_BACKOFF_S,
    chunk_size: int = CHUNK_SIZE,
    deadline_s: float | None = None,
    token: CancelToken | None = None,
) -> Generator[DownloadProgress, None, ZooDownload]:
    """Download `entry`, import it safely and save it as `<models_dir>/<local_name>.safetensors`.

    A job (see `translator.jobs`): yields `DownloadProgress`, checks `token` between reads and
    returns a `ZooDownload`. `models_dir` defaults to `user_models_dir()`; `local_name` to
    `entry.local_name`. An existing model file raises `ZooError` unless `overwrite`.
    `timeout_s` bounds each socket operation; `retries` failed attempts in a row are retried
    after `backoff_s`, doubling. The download may bring at most `download_limit(entry)` bytes and
    take at most `deadline_s` seconds, retries included (None: the limit at `SLOWEST_RATE`, at
    least `MIN_DEADLINE_S`; a read in progress may add up to `timeout_s`). Raises `DownloadError`
    for HTTP errors, repeated timeouts, a file over the limit (deleted), the deadline passing (the
    part file is kept) and bytes that are not a checkpoint, `JobCancelled` when cancelled (the
    part file is kept).
    """
    if timeout_s <= 0 or retries < 0 or backoff_s < 0 or chunk_size < 1 or (deadline_s is not None and deadline_s <= 0):
        raise ValueError("timeout_s, chunk_size and deadline_s must be positive, retries and backoff_s not negative")
    token = token or CancelToken()
    dst = model_path(entry, local_name, models_dir)
    if dst.exists() and not overwrite:
        raise ZooError(f"{dst} already exists; pass overwrite (--overwrite) to replace it, or choose another name")
    part = partial_path(entry, models_dir)
    label = f"zoo model {entry.name}"
    limit = download_limit(entry, models_dir)
    bounds = _Bounds(limit, deadline_s if deadline_s is not None else max(MIN_DEADLINE_S, limit / SLOWEST_RATE))
    fetched = yield from _fetch(entry.url, part, label=label, timeout_s=timeout_s, retries=retries,
                                backoff_s=backoff_s, chunk_size=chunk_size, bounds=bounds, token=token)
    size = part.stat().st_size
    yield DownloadProgress(size, size, stage="import", message=f"checking and importing {entry.name}")
    try:
        _check_checkpoint_bytes(part, fetched.content_type, label, entry.url)
    except DownloadError:
        _discard(part)  # an error page or other foreign bytes: resuming them is pointless
        raise
    digest = _sha256(part)
    source = f"official pretrained {entry.kind} model {entry.remote} of the reference implementation, from {entry.url} (sha256 {digest})"
    token.raise_if_cancelled()
    try:
        with _disk(label, dst):  # the same import as `translator import` and the app's Import…
            import_to_models([part], kind=entry.kind, name=dst.stem, direction="AtoB", task=entry.task, output=dst,
                             overwrite=overwrite, card_changes={"domains": entry.domains, "source": source})
    except ModelExists:  # appeared while we were downloading
        raise ZooError(f"{dst} already exists; pass overwrite (--overwrite) to replace it, or choose another name") from None
    except CheckpointError as exc:
        _discard(part)
        raise DownloadError(
            f"{label}: the file downloaded from {entry.url} is not a usable checkpoint ({exc}); "
            "it was deleted, so the next try downloads it afresh"
        ) from None
    role = "g" if entry.kind == "pix2pix" else "g_ab"
    spec = read_card(dst).generators[role]
    if (spec.arch, spec.norm) != (entry.arch, entry.norm):
        log.warning("%s: the catalogue says %s, the file holds %s (%s norm)", label, entry.architecture, spec.arch, spec.norm)
    with _disk(label, checksums_path(models_dir)):
        previous = _record_checksum(entry, digest, size, models_dir)
    _discard(part)
    with contextlib.suppress(OSError):  # only when empty: other downloads may be waiting there
        part.parent.rmdir()
    log.info("%s: saved as %s (sha256 %s)", label, dst, digest)
    return ZooDownload(entry, dst, digest, size, previous, fetched.requests)


@dataclass(frozen=True)
class _Fetched:
    content_type: str
    requests: int


@dataclass(frozen=True)
class _Bounds:
    """How much a download may bring (bytes) and how long it may take (seconds, from its start)."""

    max_bytes: int
    deadline_s: float


class _Retry(Exception):
    """An attempt failed in a way the next attempt may not (timeout, reset, truncation, 5xx)."""


def _fetch(
    url: str, part: Path, *, label: str, timeout_s: float, retries: int, backoff_s: float, chunk_size: int,
    bounds: _Bounds, token: CancelToken,
) -> Generator[DownloadProgress, None, _Fetched]:
    """Download `url` into `part`, resuming what is there, within `bounds`; see the module docstring."""
    with _disk(label, part):
        part.parent.mkdir(parents=True, exist_ok=True)
    sidecar = part.with_name(part.name + ".json")
    failures, requests = 0, 0
    # The largest the part file has been: an attempt that grows it past this made progress.
    best = part.stat().st_size if part.exists() and _read_sidecar(sidecar, url) is not None else 0
    start = time.perf_counter()
    deadline = time.monotonic() + bounds.deadline_s
    fresh_bytes = 0  # received by this call, for the rate
    while True:
        token.raise_if_cancelled()
        _check_deadline(deadline, bounds, part, label, url)
        meta = _read_sidecar(sidecar, url)
        have = part.stat().st_size if part.exists() and meta is not None else 0
        if meta is None:
            _discard(part)
            meta = {"url": url}
        headers = {"User-Agent": f"image-translator/{__version__}", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
            if validator := meta.get("etag") or meta.get("last_modified"):
                headers["If-Range"] = str(validator)
        total = int(meta["total"]) if have and isinstance(meta.get("total"), int) else 0
        yield DownloadProgress(have, total, stage="connect", message=f"connecting to {_host(url)}" + (f" (resuming at {have:,} bytes)" if have else ""))
        requests += 1
        try:
            try:
                resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s)
            except urllib.error.HTTPError as err:
                with contextlib.closing(err):
                    if err.code == 416 and have and _complete_after_416(err, have):
                        log.info("%s: %s already holds the whole file", label, part)
                        return _Fetched(meta.get("content_type", ""), requests)
                    if err.code == 416:
                        _discard(part)
                        raise _Retry("the server refused to resume (HTTP 416); starting over") from None
                    raise _http_failure(err, label, url) from None
            with contextlib.closing(resp):
                status = resp.status
                content_type = resp.headers.get("Content-Type", "")
                if status == 206 and have:
                    first, end_total = _content_range(resp.headers.get("Content-Range", ""))
                    if first != have:
                        _discard(part)
                        raise _Retry(f"the server resumed at byte {first} instead of {have}; starting over")
                    total = end_total or 0
                    mode = "ab"
                elif status == 200:
                    if have:
                        log.info("%s: the server sent the whole file instead of resuming at %d bytes; starting over", label, have)
                    have = 0
                    total = int(resp.headers.get("Content-Length") or 0)
                    mode = "wb"
                else:
                    raise DownloadError(f"{label}: {url} answered HTTP {status} {resp.reason}; expected the file (200 or 206)")
                if total > bounds.max_bytes:
                    _discard(part)
                    raise _too_large(label, url, f"announces {total:,} bytes", bounds)
                meta = {
                    "url": url, "total": total or None, "content_type": content_type,
                    "etag": _strong_etag(resp.headers.get("ETag")), "last_modified": resp.headers.get("Last-Modified"),
                }
                done = have
                with _disk(label, part):
                    write_bytes_atomic(sidecar, json.dumps(meta).encode())
                    f = open(part, mode)
                with f:
                    # read1: whatever has arrived (one recv), so a trickle still meets the deadline
                    while (done <= bounds.max_bytes and time.monotonic() < deadline
                           and (chunk := resp.read1(chunk_size))):
                        with _disk(label, part):
                            f.write(chunk)
                        done += len(chunk)
                        fresh_bytes += len(chunk)
                        elapsed = time.perf_counter() - start
                        rate, eta = rate_eta(done, total, elapsed, fresh_bytes)
                        yield DownloadProgress(done, total, elapsed_s=elapsed, rate=rate, eta_s=eta, stage="download")
                        token.raise_if_cancelled()
                if done > bounds.max_bytes:
                    _discard(part)
                    raise _too_large(label, url, f"sent more than {bounds.max_bytes:,} bytes", bounds)
                if not total or done < total:  # a whole file is taken even at its deadline
                    _check_deadline(deadline, bounds, part, label, url)
                if total and done < total:
                    raise _Retry(f"the connection closed after {done:,} of {total:,} bytes")
                if total and done > total:
                    _discard(part)
                    raise _Retry(f"the server sent {done:,} bytes but announced {total:,}; starting over")
                return _Fetched(content_type, requests)
        except _Retry as exc:
            reason = str(exc)
        except (TimeoutError, socket.timeout):
            reason = f"no data for {timeout_s:g} s (timed out)"
        except urllib.error.URLError as exc:  # no connection, no answer, DNS failure (HTTPError handled above)
            if isinstance(exc.reason, TimeoutError):
                reason = f"no answer from {_host(url)} within {timeout_s:g} s (timed out)"
            else:
                reason = f"cannot reach {_host(url)} ({_reason(exc.reason)})"
        except (http.client.HTTPException, OSError) as exc:  # reset, broken connection, bad status line
            reason = f"the connection failed ({_reason(exc)})"
        size = part.stat().st_size if part.exists() else 0
        progressed = size > best
        best = max(best, size)
        failures = 0 if progressed else failures + 1
        if failures > retries:
            kept = f"; {size:,} bytes are kept and the next try resumes from there" if size else ""
            raise DownloadError(
                f"{label}: downloading {url} failed {failures} time(s) in a row, last: {reason}{kept}. "
                "Check the connection and try again (a longer timeout helps on slow links)"
            )
        delay = 0.0 if progressed else min(MAX_BACKOFF_S, backoff_s * 2 ** (failures - 1), max(0.0, deadline - time.monotonic()))
        log.info("%s: %s; retrying in %.1f s", label, reason, delay)
        yield DownloadProgress(size, total, stage="retry", message=f"{reason}; retrying" + (f" in {delay:.0f} s" if delay >= 1 else ""))
        _sleep(delay, token)


def _too_large(label: str, url: str, what: str, bounds: _Bounds) -> DownloadError:
    """The error for a download over its size limit (whose part file the caller deleted)."""
    return DownloadError(
        f"{label}: {url} {what}, more than this model can be ({bounds.max_bytes:,} bytes at most); "
        "the download was stopped and deleted. The server may be wrong or the address may point elsewhere"
    )


def _check_deadline(deadline: float, bounds: _Bounds, part: Path, label: str, url: str) -> None:
    """Raise `DownloadError` once the download's deadline has passed (its part file is kept)."""
    if time.monotonic() < deadline:
        return
    size = part.stat().st_size if part.exists() else 0
    kept = f"; {size:,} bytes are kept and the next try resumes from there" if size else ""
    raise DownloadError(
        f"{label}: downloading {url} did not finish within {bounds.deadline_s:g} s{kept}. "
        "The server is too slow; try again later, or allow a longer deadline"
    )


@contextlib.contextmanager
def _disk(label: str, path: Path) -> Iterator[None]:
    """Turn a local file error into a `DownloadError` (it must not pass for a network error and
    be retried)."""
    try:
        yield
    except OSError as exc:
        raise DownloadError(f"{label}: cannot write {path} ({exc.strerror or exc}); free some space or check the folder's permissions") from None


def _sleep(seconds: float, token: CancelToken) -> None:
    """Sleep, waking early (and raising JobCancelled) when the token is cancelled."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        token.raise_if_cancelled()
        time.sleep(min(left, 0.05))
    token.raise_if_cancelled()


def _read_sidecar(path: Path, url: str) -> dict[str, Any] | None:
    """The part file's record if it belongs to `url`, else None (the part file is not trusted)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("url") == url else None


def _discard(part: Path) -> None:
    for p in (part, part.with_name(part.name + ".json")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _complete_after_416(err: urllib.error.HTTPError, have: int) -> bool:
    """A 416 answering `Range: bytes=<have>-` with `Content-Range: bytes */<have>`: nothing left."""
    m = re.match(r"bytes \*/(\d+)$", (err.headers.get("Content-Range") or "").strip())
    return m is not None and int(m.group(1)) == have


def _content_range(value: str) -> tuple[int, int | None]:
    """(first byte, total or None) of `bytes first-last/total`; (-1, None) when unparseable."""
    m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)$", value.strip())
    if not m:
        return -1, None
    return int(m.group(1)), None if m.group(3) == "*" else int(m.group(3))


def _strong_etag(value: str | None) -> str | None:
    """If-Range needs a strong validator: weak ETags (W/…) are not used."""
    return value if value and not value.startswith("W/") else None


def _http_failure(err: urllib.error.HTTPError, label: str, url: str) -> Exception:
    """The exception an HTTP error status means: retried for server trouble, final otherwise."""
    if err.code in (408, 425, 429) or err.code >= 500:
        return _Retry(f"the server answered HTTP {err.code} {err.reason}")
    if err.code in (404, 410):
        return DownloadError(
            f"{label}: {url} was not found (HTTP {err.code}); the model may have moved. "
            f"Check the address, or set {BASE_ENV} to a mirror"
        )
    return DownloadError(f"{label}: {url} answered HTTP {err.code} {err.reason}; the download was refused")


def _host(url: str) -> str:
    m = re.match(r"^https?://([^/]+)", url)
    return m.group(1) if m else url


def _reason(exc: object) -> str:
    if isinstance(exc, socket.gaierror):
        return "the host name cannot be resolved; check the internet connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--")


def _check_checkpoint_bytes(path: Path, content_type: str, label: str, url: str) -> None:
    """Raise `DownloadError` unless the file starts like a `torch.save` file: a zip archive
    (PyTorch >= 1.6) or a pickle (older saves, as most official models)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head:
        raise DownloadError(f"{label}: {url} returned an empty file, not a checkpoint; try again later or check the address")
    if head.startswith(b"PK\x03\x04") or (len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5):
        return
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(_HTML_STARTS) or b"<html" in stripped[:512] or "html" in content_type.lower():
        raise DownloadError(
            f"{label}: {url} returned an HTML page, not a checkpoint (Content-Type {content_type or 'unknown'}); "
            "the server may be down or the model may have moved. The page was deleted; try again later"
        )
    raise DownloadError(
        f"{label}: {url} returned {path.stat().st_size:,} bytes that are not a PyTorch checkpoint "
        f"(they start with {head[:16]!r}); they were deleted. Check the address"
    )


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return sha256_of(f)


def _record_checksum(entry: ZooEntry, digest: str, size: int, models_dir: Path | None) -> str | None:
    """Record `digest` the first time `entry` is downloaded; return the first one when it differs."""
    records = recorded_checksums(models_dir)
    first: Mapping[str, Any] | None = records.get(entry.key)
    if first is None:
        records[entry.key] = {
            "sha256": digest, "size": size, "url": entry.url,
            "first_seen": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        path = checksums_path(models_dir)
        write_bytes_atomic(path, (json.dumps(records, indent=1, sort_keys=True) + "\n").encode())
        return None
    if first["sha256"] == digest:
        return None
    log.warning(
        "zoo model %s: this download (sha256 %s) differs from the first one (sha256 %s, %s); the publisher "
        "may have replaced the file, or it was altered on the way. It was imported anyway; to make this file "
        "the one later downloads are compared with, delete the %r entry from %s",
        entry.name, digest, first["sha256"], first.get("first_seen", "date unknown"), entry.key, checksums_path(models_dir),
    )
    return str(first["sha256"])

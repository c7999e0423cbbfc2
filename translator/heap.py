"""Process-wide memory behaviour (no torch import: the command line calls this before loading it)."""
from __future__ import annotations

import ctypes
import functools
import sys
import threading

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_TRIM_DEFAULT = 128 * 2**10  # glibc's, kept while the mapping threshold is set by hand

REUSE_BELOW = 64 * 2**20
"""While small work runs (`size_heap_for`), blocks below this size come from the heap and are
reused; at 256² a unet_256 pass allocates 50–80 MB of such blocks per image, and each one mapped
afresh cost its pages' faults: 1.3–1.6 CPU-seconds over 48 images, as much as the network's own
bf16 time."""
SMALL_WORK = 256 * 2**20
"""Work estimated at up to this many bytes at once counts as small: the heap it leaves behind
(its free blocks, until the next large work trims them) is at most about this much."""

_lock = threading.Lock()
_compact: int | None = None  # the threshold `keep_heap_compact` set; None: never called (glibc's own rule)
_current: int | None = None  # the threshold set now


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _set_threshold(threshold: int, trim: int = _TRIM_DEFAULT) -> bool:
    """Blocks of `threshold` bytes or more mapped on their own; free memory above `trim` at the
    top of a heap given back (and faulted in again when the heap grows)."""
    libc = _libc()
    try:
        return libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, trim))
    except AttributeError:  # a libc without mallopt (musl)
        return False


def keep_heap_compact(threshold: int = 2**20) -> bool:
    """Have glibc serve every allocation of `threshold` bytes or more with its own mapping, which
    goes back to the system when freed. By default glibc raises that threshold as large blocks are
    freed (up to 32 MiB), so the many image-sized buffers of a big translation end up in a heap
    that does not shrink: measured on a 4096² pix2pix job, 1.65 GiB peak RSS without this and
    1.48 GiB with it. Called once by the command line and the app, before their worker threads
    start; a no-op off glibc. Small work is exempted while it runs (`size_heap_for`).

    All threads share one heap (glibc's arena): what the model thread frees, the decoding thread
    takes next, and each thread's own heap no longer maps and unmaps its 64 MiB segments (a 50-image
    256² folder job: 200-250 K page faults -> under 1 K)."""
    global _compact, _current
    with _lock:
        if not _set_threshold(threshold):
            return False
        libc = _libc()
        if libc is not None:
            libc.mallopt(_M_ARENA_MAX, 1)
        _compact = _current = threshold
        return True


def size_heap_for(work_bytes: int) -> None:
    """Say how much memory the work about to run takes at once. Small work (`SMALL_WORK`) reuses
    heap blocks below `REUSE_BELOW` instead of mapping each one afresh; larger work gets the
    compact heap back, its free blocks returned to the system first (`malloc_trim`). Only where
    `keep_heap_compact` was called; several threads may call it (the last one's size holds)."""
    global _current
    with _lock:
        if _compact is None:
            return
        want = max(REUSE_BELOW, _compact) if work_bytes <= SMALL_WORK else _compact
        if want == _current:
            return
        libc = _libc()
        if want == _compact and libc is not None:
            libc.malloc_trim(0)
        if _set_threshold(want, SMALL_WORK if want != _compact else _TRIM_DEFAULT):
            _current = want

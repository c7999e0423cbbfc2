"""Atomic file writes: a reader never sees a half-written output or checkpoint.

The data goes to a hidden temporary file in the destination's folder (same file system), is
flushed to disk, then renamed over the destination in one step. If anything fails (or the process
is killed) the destination is untouched and the temporary file is removed (or, after kill -9, left
with a name `is_partial_file` recognises so folder jobs can ignore and clean it).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PARTIAL_PREFIX = ".partial-"


def is_partial_file(path: Path) -> bool:
    """True for the temporary files `atomic_path` creates."""
    return path.name.startswith(PARTIAL_PREFIX)


@contextlib.contextmanager
def atomic_path(dst: Path) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces `dst` atomically.

    The temporary name keeps `dst`'s suffix so libraries that pick a format from the extension
    (Pillow, OpenCV) still do.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{dst.stem}-", suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(dst: Path, data: bytes) -> None:
    """Write `data` to `dst` atomically."""
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)

"""numpy ↔ Qt image conversion, the one place where array memory meets `QImage`.

Every returned `QImage` owns a deep copy of its pixels, so the array may be freed or changed
afterwards; the conversion never keeps a view into numpy memory.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

# channels -> QImage format; all three are byte-ordered, so no endianness surprises
_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def to_qimage(rgb: np.ndarray) -> QImage:
    """A `QImage` copy of a uint8 image: (H, W, 3) RGB → RGB888, (H, W, 4) RGBA → RGBA8888
    (straight, not premultiplied, alpha), (H, W) or (H, W, 1) grey → Grayscale8.

    Raises `ValueError` for any other shape or dtype (convert floats with the engine's imaging
    module first; silently rescaling here would hide a bug).
    """
    if rgb.dtype != np.uint8:
        raise ValueError(f"to_qimage needs a uint8 image, got dtype {rgb.dtype}")
    arr = rgb[:, :, None] if rgb.ndim == 2 else rgb
    if arr.ndim != 3 or arr.shape[2] not in _FORMATS or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"to_qimage needs an (H, W), (H, W, 3) or (H, W, 4) image, got shape {rgb.shape}")
    arr = np.ascontiguousarray(arr)  # (H, W, C), rows packed: bytesPerLine = W * C
    h, w, c = arr.shape
    view = QImage(arr.data, w, h, w * c, _FORMATS[c])  # borrows arr's buffer…
    return view.copy()  # …so copy before arr can go away


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    """A `QPixmap` of a uint8 image; same contract as `to_qimage`. Needs a `QGuiApplication`."""
    return QPixmap.fromImage(to_qimage(rgb))

"""A face detector faster than dlib's HOG whose weights ship inside a wheel, so nothing is downloaded.

``YuFaceDetector`` runs libfacedetection's CNN (compiled into the ``yuface`` wheel) and returns boxes
that dlib's 5-point shape predictor aligns as it aligns HOG's. MediaPipe's BlazeFace was measured too
and left out: it misses small faces and group photos (benchmarks/blazeface.py, docs/benchmarks.md).
No Django import.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]  # left, top, right, bottom: inclusive, as dlib.rectangle takes them
Detection = tuple[Box, float]
Adjustment = tuple[float, float, float]

YUFACE_VERSION = "2023.5.1"
# The exported C++ function libfacedetection.h declares: facedetect_cnn(result, bgr, width, height, step).
_FACEDETECT_CNN = "_Z14facedetect_cnnPhS_iii"
_RESULT_BYTES = 0x9000  # the size facedetect_cnn writes into: an int count, then 16 shorts per face

# (dx, dy, side) taking each detector's box to the square dlib's HOG draws around the same face, fitted
# on the shared photos (medians over 74 faces): the 5-point predictor was trained on HOG's boxes.
YUFACE_TO_HOG: Adjustment = (0.0, 0.08, 0.92)


class DetectorUnavailable(RuntimeError):
    """The detector's library or model file cannot be loaded."""


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("Expected an RGB uint8 array of shape (H, W, 3).")


def _import_cv2() -> ModuleType:
    import cv2

    return cv2


def shrink_within(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` fitted within ``max_side`` (never enlarged; OpenCV's area filter), and the factor applied."""
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return rgb, scale
    cv2 = _import_cv2()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _hog_like(
    boxes: np.ndarray, scores: np.ndarray, adjust: Adjustment | None, shape: tuple[int, ...]
) -> list[Detection]:
    """(left, top, right, bottom) rows turned into HOG-shaped squares, largest first.

    ``adjust`` moves the box centre down by a fraction of its height and sets the square's side to a
    multiple of the box's mean side: (dx, dy, side), measured against dlib's HOG on the shared photos.
    Right and bottom are inclusive, as ``dlib.rectangle`` takes them.
    """
    height, width = shape[:2]
    found = []
    for (left, top, right, bottom), score in zip(boxes.tolist(), scores.tolist(), strict=True):
        w, h = right - left, bottom - top
        if adjust is None:
            box = (round(left), round(top), round(right) - 1, round(bottom) - 1)
        else:
            dx, dy, side_factor = adjust
            cx, cy = (left + right) / 2 + dx * w, (top + bottom) / 2 + dy * h
            half = side_factor * (w + h) / 4
            box = (round(cx - half), round(cy - half), round(cx + half) - 1, round(cy + half) - 1)
        if box[2] < 0 or box[3] < 0 or box[0] >= width or box[1] >= height:
            continue
        found.append((box, float(score)))
    return sorted(found, key=lambda item: item[0][2] - item[0][0], reverse=True)


class YuFaceDetector:
    """libfacedetection's CNN, from the ``yuface`` wheel (BSD-3; its weights are compiled into the library).

    The CNN searches a copy at most ``max_side`` px long and finds faces down to about 10 px there:
    320 (the default) finds faces from about 40 px in a 640x480 kiosk frame in 10 ms, 640 finds 40 px
    faces in a 1280x720 camera frame in 30 ms (docs/benchmarks.md, Detectors).

    Threads: safe, and calls run in parallel. The C function is called through ctypes rather than
    yuface's Python binding, which leaks its 36 KB result buffer on every call (+176 MiB over 5,000
    calls) and holds the GIL throughout. ctypes releases the GIL, each call gets its own result buffer,
    and the library keeps no state between calls once its global filter tables are filled, which its
    first call does unguarded: that call is made once, under a lock, when the library is loaded.
    Measured: two threads on different photos returned exactly the serial results (300 calls) in half
    the serial time. OpenMP is held to one thread per call: two gained 1.5x on an idle machine, but
    libgomp's spinning barrier made a call 10x slower when the other core was busy.
    """

    # Faces in the shared photos score >= 0.88; background people and the Hubble field up to 0.78, and
    # phantom faces in 640x480 kiosk frames of them (black borders) up to 0.84.
    def __init__(
        self,
        *,
        max_side: int = 320,
        min_score: float = 0.8,
        adjust: Adjustment | None = YUFACE_TO_HOG,
    ) -> None:
        if max_side < 32:
            raise ValueError("max_side must be at least 32 px.")
        self.max_side = max_side
        self.min_score = min_score
        self.adjust = adjust

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        _check_rgb(rgb)
        small, scale = shrink_within(rgb, self.max_side)
        rows = _yuface_run(np.ascontiguousarray(small[:, :, ::-1]))
        rows = rows[rows[:, 0] >= round(self.min_score * 100)]
        boxes = rows[:, 1:5].astype(np.float64)
        boxes[:, 2:] += boxes[:, :2]
        return _hog_like(boxes / scale, rows[:, 0] / 100, self.adjust, rgb.shape)


_yuface_lock = threading.Lock()
_yuface: Any = None


def _yuface_library() -> Any:
    global _yuface
    if _yuface is None:
        with _yuface_lock:
            if _yuface is None:
                _yuface = _load_yuface()
    return _yuface


def _load_yuface() -> Any:
    try:
        version = importlib.metadata.version("yuface")
    except importlib.metadata.PackageNotFoundError as exc:
        raise DetectorUnavailable(f"yuface is not installed: pip install yuface=={YUFACE_VERSION}") from exc
    if version != YUFACE_VERSION:
        raise DetectorUnavailable(f"yuface {version} is untested: the detector calls its library for {YUFACE_VERSION}.")
    # find_spec locates the package without importing yuface's leaking binding.
    spec = importlib.util.find_spec("yuface")
    folders = list(spec.submodule_search_locations or []) if spec else []
    try:
        library = ctypes.CDLL(str(Path(folders[0]) / "libfacedetection.so"))
        run = getattr(library, _FACEDETECT_CNN)
        set_threads = library.omp_set_num_threads
    except (OSError, AttributeError, IndexError) as exc:
        raise DetectorUnavailable(f"yuface's libfacedetection.so cannot be loaded: {exc}") from exc
    run.restype = ctypes.POINTER(ctypes.c_int)
    run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    set_threads.argtypes = [ctypes.c_int]
    set_threads.restype = None
    # The first call fills the library's global filters: make it here, under the lock.
    _call_yuface((run, set_threads), np.zeros((32, 32, 3), np.uint8))
    return run, set_threads


def _yuface_run(bgr: np.ndarray) -> np.ndarray:
    return _call_yuface(_yuface_library(), bgr)


def _call_yuface(functions: tuple[Any, Any], bgr: np.ndarray) -> np.ndarray:
    """Rows of (score %, x, y, w, h, 5 x (x, y), unused) for a C-contiguous BGR image."""
    run, set_threads = functions
    height, width = bgr.shape[:2]
    result = np.zeros(_RESULT_BYTES, np.uint8)
    set_threads(1)  # per calling thread: OpenMP keeps this setting in each thread's own state
    run(result.ctypes.data, bgr.ctypes.data, width, height, width * 3)
    count = int(result[:4].view(np.int32)[0])
    return result[4 : 4 + 32 * count].view(np.int16).reshape(count, 16).astype(np.int32)

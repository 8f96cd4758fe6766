"""Face detection and embedding: the only module that imports deepface, lazily and once per process.

libfacedetection's CNN (faces.detectors, from the yuface wheel; dlib's HOG when configured) finds
faces on a small copy, the 5-point predictor aligns each face into the chip dlib's ResNet was trained
on, and that network (DeepFace's Dlib model) embeds the chips of a frame in one batch: on onnxruntime
from the graph converted at install time (faces.dlib_onnx; the same embeddings within 1e-4, about 20x
faster), or on dlib itself when the converted model is missing. No Django import here.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from faces.detectors import shrink_within
from faces.weights import INSTALL_COMMAND, WeightsMissing, converted_model, ensure_weights

logger = logging.getLogger(__name__)

# Bump whenever a change here can move an embedding, so cached and stored vectors are recomputed.
PIPELINE_VERSION = "1"
MODEL_NAME = "Dlib"
DETECTORS = ("yuface", "dlib", "opencv", "skip")
# yuface's score floor for photos and kiosk frames: at 0.8 it drew phantom faces (0.80-0.84) in the
# black borders of 640x480 kiosk frames of the shared photos, whose real faces score >= 0.88. Camera
# frames keep the detector's 0.8: their small faces score lower, and showed no phantom at 640 px.
YUFACE_MIN_SCORE = 0.86
# Who runs dlib's network: "onnx" (the converted graph), "dlib", or "auto" (onnx, else dlib with a warning).
DESCRIPTORS = ("auto", "onnx", "dlib")
EMBEDDING_SIZE = 128

CHIP_SIZE = 150
CHIP_PADDING = 0.25
# The unpadded face inside the padded chip, where quality is measured.
_FACE_MARGIN = round(CHIP_SIZE * CHIP_PADDING / (1 + 2 * CHIP_PADDING))
HAARCASCADE_FILE = "haarcascade_frontalface_default.xml"
HAARCASCADE_DIRS = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")

Box = tuple[int, int, int, int]
Point = tuple[float, float]


class EngineError(RuntimeError):
    """Base class for the engine's errors."""


class EngineConfigError(EngineError, ValueError):
    """The configuration asks for something this engine cannot do."""


class EngineUnavailable(EngineError):
    """The models cannot be loaded: weights missing, deepface or dlib broken."""


@dataclass(frozen=True)
class EngineConfig:
    deepface_home: str | Path
    model_name: str = MODEL_NAME
    detector_backend: str = "yuface"
    # HOG searches a copy at most this long; its 80 px window then finds faces of ~8% of that.
    detect_max_side: int = 1024
    # yuface searches a copy at most this long (it finds faces of ~10 px there): 320 for photos and
    # kiosk frames (faces from ~40 px in 640x480), 640 for camera frames, whose faces are small.
    yuface_max_side: int = 320
    yuface_small_faces_max_side: int = 640
    max_side: int = 1280
    # dlib detector only. Faces in the shared photos score >= 0.98; the one false face there, 0.12.
    min_detector_score: float = 0.4
    descriptor: str = "auto"
    # onnxruntime threads per engine: one per core is what the machine has, divided by the workers.
    onnx_threads: int = 1

    def __post_init__(self) -> None:
        if self.model_name != MODEL_NAME:
            raise EngineConfigError(f"Only the {MODEL_NAME!r} model works offline, not {self.model_name!r}.")
        if self.detector_backend not in DETECTORS:
            raise EngineConfigError(f"Detector {self.detector_backend!r} is not one of {', '.join(DETECTORS)}.")
        if min(self.detect_max_side, self.max_side, self.yuface_max_side, self.yuface_small_faces_max_side) < 160:
            raise EngineConfigError("detect_max_side, yuface sides and max_side must be at least 160 px.")
        if self.descriptor not in DESCRIPTORS:
            raise EngineConfigError(f"Descriptor {self.descriptor!r} is not one of {', '.join(DESCRIPTORS)}.")
        if self.onnx_threads < 1:
            raise EngineConfigError("onnx_threads must be at least 1.")


@dataclass(frozen=True)
class FaceQuality:
    """Measured on the aligned face (the unpadded centre of the chip), so values compare across photos."""

    size_px: int  # shorter side of the box (clipped to the image), in input pixels
    sharpness: float  # variance of the Laplacian, grayscale
    brightness: float  # mean gray level, 0-255


@dataclass(frozen=True, eq=False)
class Face:
    """One face; coordinates are in the input image's pixels, largest faces come first.

    ``embedding`` is a read-only float32 vector of 128, L2-normalised. ``landmarks`` are dlib's five
    points: two corners of each eye, then the base of the nose. ``detector_score`` is None for "skip".
    """

    box: Box
    landmarks: tuple[Point, ...]
    quality: FaceQuality
    embedding: np.ndarray
    detector_score: float | None = None


class _DlibDescriptor:
    """dlib's own inference of its network (the reference, and the fallback)."""

    name = "dlib"

    def __init__(self, net: Any) -> None:
        self._net = net

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self._net.compute_face_descriptor(chips), dtype=np.float32).reshape(len(chips), -1)


class _OnnxDescriptor:
    """The same network converted to ONNX (faces.dlib_onnx), run by onnxruntime."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        return self._session.run(None, {self._input: np.stack(chips)})[0]


def _descriptor(config: EngineConfig, dlib_net: Any) -> _DlibDescriptor | _OnnxDescriptor:
    path = converted_model(config.deepface_home)
    if config.descriptor == "dlib":
        return _DlibDescriptor(dlib_net)
    problem = None if path.is_file() else f"{path.name} is missing (run `{INSTALL_COMMAND}`)"
    if problem is None:
        try:
            return _OnnxDescriptor(path, config.onnx_threads)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; any of them means fallback
            problem = f"onnxruntime could not load {path.name}: {exc}"
    if config.descriptor == "onnx":
        raise EngineUnavailable(problem)
    logger.warning("Face descriptor on dlib's own inference, about 20x slower: %s", problem)
    return _DlibDescriptor(dlib_net)


@dataclass(frozen=True)
class _Models:
    """An engine's own models. dlib's detector and network keep working buffers inside the object, so
    they serve one call at a time: two threads on one HOG detector corrupt the heap and find phantom faces."""

    dlib: ModuleType
    cv2: ModuleType
    hog: Any
    # yuface at the photo and at the camera-frame size; None unless it is the configured detector.
    yuface: Any
    yuface_small_faces: Any
    shape_predictor: Any
    descriptor: _DlibDescriptor | _OnnxDescriptor
    cascade: Any


# One load at a time: catch_warnings() below saves and restores process-wide state.
_load_lock = threading.Lock()


def _find_cascade(cv2: ModuleType) -> str:
    for folder in (getattr(getattr(cv2, "data", None), "haarcascades", ""), *HAARCASCADE_DIRS):
        path = Path(folder) / HAARCASCADE_FILE
        if folder and path.is_file():
            return str(path)
    raise EngineUnavailable(
        f"{HAARCASCADE_FILE} not found (opencv 5 wheels no longer ship it): "
        "install Debian's opencv-data or use the dlib detector."
    )


def _load_models(config: EngineConfig) -> _Models:
    home = str(config.deepface_home)
    try:
        ensure_weights(home)
    except WeightsMissing as exc:
        raise EngineUnavailable(str(exc)) from exc
    # deepface reads DEEPFACE_HOME when it builds a model, then caches the model for the process.
    os.environ["DEEPFACE_HOME"] = home
    # deepface, cv2 and their dependencies rewrite the process-wide warning filters on import.
    with warnings.catch_warnings():
        try:
            import cv2
            import dlib
            from deepface.modules import modeling

            # Fresh instances, not build_model()'s process-wide singletons: each engine guards its own.
            recognizer = modeling.get_model_class(task="facial_recognition", model_name=MODEL_NAME)()
            detector = modeling.get_model_class(task="face_detector", model_name="dlib")()
        except Exception as exc:
            raise EngineUnavailable(f"Face models failed to load: {exc}") from exc
    cascade = cv2.CascadeClassifier(_find_cascade(cv2)) if config.detector_backend == "opencv" else None
    yuface = yuface_small_faces = None
    if config.detector_backend == "yuface":
        from faces.detectors import DetectorUnavailable, YuFaceDetector

        yuface = YuFaceDetector(max_side=config.yuface_max_side, min_score=YUFACE_MIN_SCORE)
        yuface_small_faces = YuFaceDetector(max_side=config.yuface_small_faces_max_side)
        try:
            yuface.detect(np.zeros((32, 32, 3), np.uint8))  # loads the library, or says why not
        except DetectorUnavailable as exc:
            raise EngineUnavailable(str(exc)) from exc
    return _Models(
        dlib=dlib,
        cv2=cv2,
        hog=detector.model["face_detector"],
        yuface=yuface,
        yuface_small_faces=yuface_small_faces,
        shape_predictor=detector.model["sp"],
        # The raw dlib network: DeepFace's forward() wants BGR and converts back to RGB.
        descriptor=_descriptor(config, recognizer.model.model),
        cascade=cascade,
    )


class Engine:
    """Detects and embeds faces. Models load once per engine, on ``load()`` or first use.

    Safe to call from any number of threads: calls take turns on the engine's models. A second set of
    models in one process bought no throughput when measured (dlib holds the GIL for most of a call;
    docs/benchmarks.md, Concurrent kiosks): more throughput comes from more processes.
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._models: _Models | None = None
        self._in_use = threading.Lock()

    @property
    def pipeline_version(self) -> str:
        c = self.config
        if c.detector_backend == "yuface":
            sides = f"y{c.yuface_max_side}-{c.yuface_small_faces_max_side}"
            return f"{PIPELINE_VERSION}-{c.model_name}-yuface-{sides}-m{c.max_side}"
        return (
            f"{PIPELINE_VERSION}-{c.model_name}-{c.detector_backend}"
            f"-d{c.detect_max_side}-m{c.max_side}-s{c.min_detector_score:g}"
        )

    def load(self) -> None:
        self._loaded()

    @property
    def descriptor(self) -> str:
        """Who runs the network once loaded: "onnxruntime" or "dlib"."""
        return self._loaded().descriptor.name

    def _loaded(self) -> _Models:
        if self._models is None:
            with _load_lock:
                if self._models is None:
                    self._models = _load_models(self.config)
        return self._models

    def detect_and_embed(self, rgb: np.ndarray, *, small_faces: bool = False) -> list[Face]:
        """Every face in an RGB uint8 (H, W, 3) image; an empty list when there is none.

        ``small_faces``: the image is a camera frame, whose faces may be 40 px; yuface then searches a
        larger copy (slower). Other detectors ignore it.
        """
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("Expected an RGB uint8 array of shape (H, W, 3).")
        models = self._loaded()
        with self._in_use:
            work, scale = shrink_within(rgb, self.config.max_side)
            work = np.ascontiguousarray(work)
            found = self._detect(models, work, small_faces)
            landmarks = [models.shape_predictor(work, rect) for rect, _ in found]
            chips = [
                models.dlib.get_face_chip(work, points, size=CHIP_SIZE, padding=CHIP_PADDING) for points in landmarks
            ]
            embeddings = models.descriptor.embed(chips) if chips else []
        faces = [
            _face(models, detection, points, chip, vector, scale, rgb.shape[:2])
            for detection, points, chip, vector in zip(found, landmarks, chips, embeddings, strict=True)
        ]
        return sorted(faces, key=lambda face: face.quality.size_px, reverse=True)

    def detect_boxes(self, rgb: np.ndarray, *, small_faces: bool = False) -> list[Box]:
        """The boxes ``detect_and_embed`` gives its faces (x, y, width, height; largest first), without
        aligning or embedding them: for callers that only need to know where the faces are."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("Expected an RGB uint8 array of shape (H, W, 3).")
        models = self._loaded()
        with self._in_use:
            work, scale = shrink_within(rgb, self.config.max_side)
            found = self._detect(models, np.ascontiguousarray(work), small_faces)
        boxes = [_clipped_box(rect, scale, rgb.shape[:2]) for rect, _ in found]
        return sorted(boxes, key=lambda box: min(box[2], box[3]), reverse=True)

    def _detect(self, models: _Models, work: np.ndarray, small_faces: bool) -> list[tuple[Any, float | None]]:
        """Face rectangles in ``work`` pixels, with the detector's score."""
        height, width = work.shape[:2]
        if self.config.detector_backend == "skip":
            return [(models.dlib.rectangle(0, 0, width - 1, height - 1), None)]
        if self.config.detector_backend == "yuface":
            detector = models.yuface_small_faces if small_faces else models.yuface
            return [(models.dlib.rectangle(*box), score) for box, score in detector.detect(work)]
        limit = self.config.detect_max_side
        small, scale = shrink_within(work, limit)
        if self.config.detector_backend == "opencv":
            gray = models.cv2.cvtColor(small, models.cv2.COLOR_RGB2GRAY)
            boxes, _, scores = models.cascade.detectMultiScale3(gray, 1.1, 10, outputRejectLevels=True)
            found = [
                ((x, y, x + w - 1, y + h - 1), float(s))
                for (x, y, w, h), s in zip(boxes, np.ravel(scores), strict=True)
            ]
        else:
            # Upsampling doubles the searched side: only worth it while that stays within the limit.
            upsample = 1 if 2 * max(small.shape[:2]) <= limit else 0
            rects, scores, _ = models.hog.run(small, upsample, self.config.min_detector_score)
            found = [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores, strict=True)]
        return [(models.dlib.rectangle(*(round(v / scale) for v in ltrb)), score) for ltrb, score in found]


def _face(
    models: _Models,
    detection: tuple[Any, float | None],
    landmarks: Any,
    chip: np.ndarray,
    descriptor: np.ndarray,
    scale: float,
    shape: tuple[int, ...],
) -> Face:
    rect, score = detection
    embedding = np.array(descriptor, dtype=np.float32)
    embedding /= np.linalg.norm(embedding)
    embedding.setflags(write=False)
    box = _clipped_box(rect, scale, shape)
    return Face(
        box=box,
        landmarks=tuple((round(p.x / scale, 1), round(p.y / scale, 1)) for p in landmarks.parts()),
        quality=_quality(models.cv2, chip, min(box[2], box[3])),
        embedding=embedding,
        detector_score=score,
    )


def _clipped_box(rect: Any, scale: float, shape: tuple[int, ...]) -> Box:
    """A detector's rectangle in ``work`` pixels as (x, y, width, height) in the input's, clipped to it."""
    height, width = shape
    left, top = max(0, round(rect.left() / scale)), max(0, round(rect.top() / scale))
    right, bottom = min(width, round((rect.right() + 1) / scale)), min(height, round((rect.bottom() + 1) / scale))
    return (left, top, right - left, bottom - top)


def _quality(cv2: ModuleType, chip: np.ndarray, size_px: int) -> FaceQuality:
    face = chip[_FACE_MARGIN:-_FACE_MARGIN, _FACE_MARGIN:-_FACE_MARGIN]
    gray = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY)
    return FaceQuality(
        size_px=size_px,
        sharpness=float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        brightness=float(gray.mean()),
    )

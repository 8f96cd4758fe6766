"""MediaPipe's BlazeFace short-range detector, for benchmarks/bench_detectors.py only: measured against
yuface and HOG, and not used by the engine (it misses small faces and the faces of group photos).

The model, face_detection_short_range.tflite (Apache-2.0), comes out of the mediapipe==0.10.21 wheel:
`pip download --no-deps mediapipe==0.10.21`, then unzip that one file; mediapipe is never installed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from faces.detectors import (
    Adjustment,
    Detection,
    DetectorUnavailable,
    _check_rgb,
    _hog_like,
    _import_cv2,
    shrink_within,
)

BLAZEFACE_TO_HOG: Adjustment = (0.0, -0.02, 0.97)


class BlazeFaceDetector:
    """MediaPipe's BlazeFace short-range model (Apache-2.0) through ``cv2.dnn.readNetFromTFLite``.

    The model sees the whole frame letterboxed into 128x128, so it finds large faces only: a kiosk's in
    5 ms, but none of the 40-80 px faces in 1280x720 frames nor the six 80-100 px faces of a 1200 px
    group photo (docs/benchmarks.md, Detectors).
    ``face_detection_short_range.tflite`` comes out of the ``mediapipe==0.10.21`` wheel (never
    installed: ``pip download --no-deps`` and unzip that one file).

    Threads: an OpenCV ``Net`` keeps its input and blobs between calls; two threads sharing one
    returned a wrong answer and raised ``cv2.error`` (forwardGraph: buf.shape() == m.shape()) within
    600 calls. Calls on one detector therefore take turns on a lock.
    """

    INPUT = 128

    def __init__(
        self,
        model_path: str | Path,
        *,
        # Shared faces score >= 0.79, background people <= 0.36, the cat photo 0.49.
        min_score: float = 0.6,
        adjust: Adjustment | None = BLAZEFACE_TO_HOG,
    ) -> None:
        self.model_path = Path(model_path)
        self.min_score = min_score
        self.adjust = adjust
        self._net: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._net is None:
            if not self.model_path.is_file():
                raise DetectorUnavailable(f"BlazeFace model missing: {self.model_path}")
            cv2 = _import_cv2()
            try:
                self._net = cv2.dnn.readNetFromTFLite(str(self.model_path))
            except cv2.error as exc:
                raise DetectorUnavailable(f"BlazeFace model cannot be read: {exc}") from exc
        return self._net

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        _check_rgb(rgb)
        height, width = rgb.shape[:2]
        small, _ = shrink_within(rgb, self.INPUT)
        if small.shape[0] != small.shape[1] or small.shape[0] != self.INPUT:
            # Letterboxed as MediaPipe does: the frame centred on black.
            canvas = np.zeros((self.INPUT, self.INPUT, 3), np.uint8)
            if max(height, width) < self.INPUT:
                cv2 = _import_cv2()
                grow = self.INPUT / max(height, width)
                small = cv2.resize(rgb, (round(width * grow), round(height * grow)), interpolation=cv2.INTER_LINEAR)
            top, left = (self.INPUT - small.shape[0]) // 2, (self.INPUT - small.shape[1]) // 2
            canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
            small = canvas
        blob = (small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[np.newaxis]
        with self._lock:
            net = self._loaded()
            net.setInput(np.ascontiguousarray(blob))
            regressors = np.array(net.forward("regressors"))[0]
            logits = np.array(net.forward("classificators"))[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        keep = scores >= self.min_score
        anchors = _blazeface_anchors()[keep]
        regressors, scores = regressors[keep], scores[keep]
        centres = anchors + regressors[:, :2] / self.INPUT
        sizes = np.clip(regressors[:, 2:4], 0, None) / self.INPUT
        boxes, scores = _weighted_nms(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1), scores, 0.3)
        # From the 128x128 canvas back to the input's pixels.
        side = max(height, width)
        boxes = boxes * side - np.array([side - width, side - height] * 2) / 2
        return _hog_like(boxes, scores, self.adjust, rgb.shape)


_anchors: np.ndarray | None = None


def _blazeface_anchors() -> np.ndarray:
    """Centres of the short-range model's 896 SSD anchors, in 0-1 units (all of size 1)."""
    global _anchors
    if _anchors is None:
        centres = []
        for stride, per_cell in ((8, 2), (16, 6)):
            cells = BlazeFaceDetector.INPUT // stride
            grid = (np.arange(cells) + 0.5) / cells
            ys, xs = np.meshgrid(grid, grid, indexing="ij")
            centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
        _anchors = np.concatenate(centres)
    return _anchors


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted suppression: each kept face averages the boxes it overlaps, by score."""
    order = np.argsort(-scores)
    kept_boxes, kept_scores = [], []
    while order.size:
        best = order[0]
        overlap = _iou(boxes[best], boxes[order])
        group = order[(overlap >= min_iou) | (order == best)]
        weights = scores[group][:, np.newaxis]
        kept_boxes.append((boxes[group] * weights).sum(0) / weights.sum())
        kept_scores.append(scores[best])
        order = order[(overlap < min_iou) & (order != best)]
    if not kept_boxes:
        return np.zeros((0, 4)), np.zeros(0)
    return np.array(kept_boxes), np.array(kept_scores)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    top_left = np.maximum(box[:2], others[:, :2])
    bottom_right = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(others[:, 2:] - others[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, 1e-12)

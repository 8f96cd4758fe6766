"""468 face landmarks from MediaPipe's FaceMesh (Apache-2.0), run by OpenCV's TFLite importer.

The model file is extracted from the pinned mediapipe wheel at install time (faces.weights); nothing is
downloaded here and the MediaPipe runtime is never imported. Only ``get_landmark_model`` reads Django
settings (DEEPFACE_HOME).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from faces.weights import INSTALL_COMMAND, LANDMARK_MODEL, file_sha256, landmark_model

POINTS = 468
INPUT_SIDE = 192
# The graph's output that holds the 468 x (x, y, z) landmarks, in the 192x192 crop's pixels. The other
# output (conv2d_31) is a face-presence score, which OpenCV can only give through a second forward().
_LANDMARKS_OUTPUT = "conv2d_21"
# MediaPipe feeds the model the landmarks' bounding box, squared on its long side, enlarged 1.5 times
# and turned so that the eye corners (points 33 and 263) lie level; input pixels are scaled to [0, 1].
# We do the same from a first pass's points; the first pass crops a square of FIRST_PASS_SCALE times the
# detector's box (the engine's boxes are about a face's width), upright. A face rolled by more than
# REFINE_DEGREES gets a third pass: measured on faces rolled 45 degrees, two passes were off by 4-8% of
# the face's size and three by 1-2% (upright faces: 0.4% either way).
ROI_SCALE = 1.5
FIRST_PASS_SCALE = 1.5
REFINE_DEGREES = 10.0
_EYE_CORNERS = (33, 263)

Box = tuple[int, int, int, int]


class LandmarksUnavailable(RuntimeError):
    """The landmark model is not staged, is damaged, or OpenCV cannot load it."""


class LandmarkModel:
    """FaceMesh on one face of a frame.

    Safe across threads, and calls run in parallel: each thread gets its own OpenCV ``Net``, because a
    ``Net`` keeps working buffers and two threads sharing one get each other's answers.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise LandmarksUnavailable(
                f"The landmark model {self.path} is missing: run `{INSTALL_COMMAND}` to stage it."
            )
        if file_sha256(self.path) != LANDMARK_MODEL.sha256:
            raise LandmarksUnavailable(
                f"The landmark model {self.path} does not match its pinned SHA-256: run `{INSTALL_COMMAND}` again."
            )
        self._local = threading.local()
        self._net()  # loads in this thread now, so a broken file or OpenCV fails here, not in a request

    def _net(self):
        net = getattr(self._local, "net", None)
        if net is None:
            import cv2

            try:
                net = cv2.dnn.readNetFromTFLite(str(self.path))
            except cv2.error as exc:
                raise LandmarksUnavailable(f"OpenCV cannot load {self.path.name}: {exc}") from exc
            self._local.net = net
        return net

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The face at ``box`` (x, y, width, height, as the engine's faces have it) of an RGB uint8 frame:
        float32 (468, 3), x and y in the frame's pixels, z in the same scale (relative depth, smaller is
        nearer the camera). Points fall outside the frame where the face does."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("Expected an RGB uint8 array of shape (H, W, 3).")
        if len(box) != 4 or min(box[2], box[3]) <= 0:
            raise ValueError(f"Expected a box (x, y, width, height) with a positive size, not {box!r}.")
        x, y, width, height = (float(value) for value in box)
        points = self._run(rgb, (x + width / 2, y + height / 2), FIRST_PASS_SCALE * max(width, height), 0.0)
        centre, side, angle = _roi(points)
        points = self._run(rgb, centre, side, angle)
        if abs(np.degrees(angle)) > REFINE_DEGREES:
            points = self._run(rgb, *_roi(points))
        return points

    def _run(self, rgb: np.ndarray, centre: tuple[float, float], side: float, angle: float) -> np.ndarray:
        import cv2

        # crop = scale * R(-angle) @ (point - centre) + half the input side
        scale = INPUT_SIDE / side
        cos, sin = np.cos(angle), np.sin(angle)
        linear = scale * np.array([[cos, sin], [-sin, cos]])
        shift = INPUT_SIDE / 2 - linear @ np.asarray(centre)
        crop = cv2.warpAffine(
            rgb,
            np.column_stack([linear, shift]),
            (INPUT_SIDE, INPUT_SIDE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        blob = np.ascontiguousarray((crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])
        net = self._net()
        net.setInput(blob)
        points = np.asarray(net.forward(_LANDMARKS_OUTPUT), dtype=np.float64).reshape(POINTS, 3)
        xy = (points[:, :2] - shift) @ np.linalg.inv(linear).T
        return np.column_stack([xy, points[:, 2] / scale]).astype(np.float32)


def _roi(points: np.ndarray) -> tuple[tuple[float, float], float, float]:
    """MediaPipe's crop for the next pass: centre, side and angle from a face's landmarks."""
    left, right = points[_EYE_CORNERS[0], :2], points[_EYE_CORNERS[1], :2]
    angle = float(np.arctan2(right[1] - left[1], right[0] - left[0]))
    cos, sin = np.cos(angle), np.sin(angle)
    upright = points[:, :2] @ np.array([[cos, -sin], [sin, cos]])  # rows rotated by -angle
    low, high = upright.min(axis=0), upright.max(axis=0)
    middle = (low + high) / 2
    centre = middle @ np.array([[cos, sin], [-sin, cos]])  # back by +angle
    return (float(centre[0]), float(centre[1])), ROI_SCALE * float(max(high - low)), angle


@functools.cache
def _model_at(path: str) -> LandmarkModel:
    return LandmarkModel(path)


def get_landmark_model() -> LandmarkModel:
    """The process's landmark model, from settings.DEEPFACE_HOME; loaded once per path.

    Raises LandmarksUnavailable (saying what to run) when the file is missing or damaged.
    """
    from django.conf import settings

    return _model_at(str(landmark_model(settings.DEEPFACE_HOME)))

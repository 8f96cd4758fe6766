"""Is the face in front of a kiosk or camera a live head, or a picture of one? Judged from its landmarks.

A flat picture (a print or a screen), however it is moved, tilted or turned, moves all its points by
one homography between two frames; a real head that turns shows parallax (the nose tip against the
eyes and the face's outline) that no homography explains. A challenge asks for a motion a picture
cannot make: a turn of the head (which must also show parallax) or a blink. numpy and OpenCV only;
Django settings are read for the thresholds (settings.LIVENESS) when they are configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
from django.utils.translation import gettext_noop

# The kiosk's words. Left and right as the person sees it: their own left. Frames come unmirrored
# (as the camera sees the person), so a person turning to their left moves their nose towards the
# image's right (larger x) and "turn_right" towards its left. Marked for translation here, translated
# where they are shown (attendance.presence).
CHALLENGES: dict[str, str] = {
    "turn_left": gettext_noop("Please turn your head to the left"),
    "turn_right": gettext_noop("Please turn your head to the right"),
    "blink": gettext_noop("Please blink"),
}

POINTS = 468
# FaceMesh points that move without the head moving (eyelids, eyebrows, lips: faces.landmarks' model,
# from MediaPipe's face_mesh_connections). They and their neighbours within NON_RIGID_RADIUS of the
# face's size are left out of the homography test: a blink or a smile is not parallax.
_EYES = (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246)
_EYES += (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466)
_BROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
_LIPS = (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191)
_LIPS += (267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415)
NON_RIGID = _EYES + _BROWS + _LIPS
NON_RIGID_RADIUS = 0.05
# Yaw: the nose tip's place between the two sides of the face's outline, on a frontal face's image-left
# (the person's right) and image-right sides. 0 facing the camera, rising as the person turns to their
# left. On 3D faces made of FaceMesh's own points (tests/faces/spoofs.py) it moves about 0.031 a degree
# (0.31 for 10 degrees from the front, 0.62 for 20, 0.96 for 30, 1.35 for 40), which turns it into
# estimated degrees: close up to 30 degrees, a little high beyond.
_NOSE = (1, 4)
_EYE_CORNERS = (33, 263)  # outer corners: image-left, image-right
_OUTLINE_IMAGE_LEFT = (234, 93, 132)
_OUTLINE_IMAGE_RIGHT = (454, 323, 361)
YAW_INDEX_PER_DEGREE = 0.031
# Eye aspect ratio: lid to lid over corner to corner, for each eye (corners, then two upper/lower pairs).
_EYE_POINTS = ((33, 133, 160, 144, 158, 153), (362, 263, 385, 380, 387, 373))
_TRIM = 0.9  # the residual is the RMS of the best 90% of points: a few wild landmarks do not make parallax


@dataclass(frozen=True)
class Thresholds:
    """What the judge needs to see; fractions are of the face's size (the root of its landmarks' box area).

    Defaults measured on the shared photos (docs/liveness.md, "Thresholds"): prints turned up to 25
    degrees either way left at most 0.019 unexplained by a homography (FaceMesh makes a turned picture
    look a little like a turned head), a real head leaves about 0.0016 per degree it turns.
    """

    parallax: float = 0.025  # residual at or above: a head (live)
    motion: float = 0.008  # below: the face did not turn or tilt, nothing can be told (landmark jitter)
    flat_ratio: float = 0.45  # residual at most this fraction of the motion: a picture (not live)
    turn_degrees: float = 20.0  # a turn challenge needs an estimated yaw change this large, in its direction
    blink_closed: float = 0.65  # eye aspect ratio at most this fraction of the open eyes' counts as closed
    blink_reopened: float = 0.85  # and at least this fraction afterwards as open again
    max_frames: int = 10  # frames compared (evenly chosen from longer tracks)
    track_iou: float = 0.3  # judge_frames: consecutive faces overlapping less are not the same face

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
                raise ValueError(f"Liveness threshold {field.name} must be a number, not {value!r}.")
        if not 0 < self.motion <= self.parallax < 1:
            raise ValueError("Liveness thresholds need 0 < motion <= parallax < 1.")
        if not 0 < self.flat_ratio < 1:
            raise ValueError("Liveness flat_ratio must be between 0 and 1.")
        if not 0 < self.blink_closed < self.blink_reopened <= 1:
            raise ValueError("Liveness thresholds need 0 < blink_closed < blink_reopened <= 1.")
        if not 0 < self.turn_degrees < 90:
            raise ValueError("Liveness turn_degrees must be between 0 and 90.")
        if not isinstance(self.max_frames, int) or self.max_frames < 2:
            raise ValueError("Liveness max_frames must be an integer of at least 2.")
        if not 0 < self.track_iou < 1:
            raise ValueError("Liveness track_iou must be between 0 and 1.")


SETTINGS_KEYS = {
    "PARALLAX": "parallax",
    "MOTION": "motion",
    "FLAT_RATIO": "flat_ratio",
    "TURN_DEGREES": "turn_degrees",
    "BLINK_CLOSED": "blink_closed",
    "BLINK_REOPENED": "blink_reopened",
    "MAX_FRAMES": "max_frames",
    "TRACK_IOU": "track_iou",
}


def configured_thresholds() -> Thresholds:
    """settings.LIVENESS when Django is configured and has it (faces.checks validates it), else the defaults."""
    try:
        from django.conf import settings

        values = getattr(settings, "LIVENESS", None) if settings.configured else None
    except ImportError:
        values = None
    if not values:
        return Thresholds()
    return Thresholds(**{name: values[key] for key, name in SETTINGS_KEYS.items() if key in values})


@dataclass(frozen=True)
class Verdict:
    """What the judge saw. ``live`` is None when it cannot tell (too few frames, too little motion, a
    challenge not done yet): not live, and the kiosk should ask for a challenge.

    ``motion`` is how much the face's shape changed between two frames beyond a slide, zoom or in-plane
    rotation (a turn or tilt, of a head or of a picture); ``residual`` how much of it one homography
    leaves unexplained (parallax): both fractions of the face's size, the largest over frame pairs.
    ``turn`` is the estimated yaw change in degrees (towards the asked side for a turn challenge, else
    either way), ``blink`` the deepest eye closure seen (1 - narrowest / open eye aspect ratio).
    """

    live: bool | None
    reason: str
    frames: int = 0
    motion: float = 0.0
    residual: float = 0.0
    turn: float = 0.0
    blink: float = 0.0
    challenge: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        for key in ("motion", "residual", "turn", "blink"):
            data[key] = round(float(data[key]), 4)
        return data


def judge(
    tracks: Sequence[np.ndarray], *, challenge: str | None = None, thresholds: Thresholds | None = None
) -> Verdict:
    """Judge one face's landmarks, one (468, 2) or (468, 3) array per frame in capture order (x and y are
    used). Works on 2 frames and up; longer tracks are thinned to ``max_frames`` evenly spaced frames.

    Passive (no ``challenge``): live when the motion shows parallax; not live ("flat") when it moved out
    of plane as a picture does; otherwise inconclusive. With a ``challenge`` (a key of CHALLENGES) the
    asked motion must show in the frames, and a turn must show parallax too; a flat track is never live.
    Raises ValueError for an unknown challenge or landmarks of the wrong shape.
    """
    if challenge is not None and challenge not in CHALLENGES:
        raise ValueError(f"Unknown liveness challenge {challenge!r}: one of {', '.join(sorted(CHALLENGES))}.")
    limits = thresholds or configured_thresholds()
    points = _as_points(tracks)
    frames = len(points)
    if frames < 2:
        return Verdict(None, "too_few_frames", frames=frames, challenge=challenge)
    if frames > limits.max_frames:
        points = points[np.round(np.linspace(0, frames - 1, limits.max_frames)).astype(int)]
    motion, residual = _motion_and_residual(points)
    yaw = np.array([_yaw_index(frame) for frame in points]) / YAW_INDEX_PER_DEGREE
    seen = {"frames": frames, "motion": motion, "residual": residual, "challenge": challenge}
    parallax = residual >= limits.parallax
    flat = not parallax and motion >= limits.motion and residual <= limits.flat_ratio * motion
    if challenge is None:
        seen["turn"] = float(yaw.max() - yaw.min())
        if parallax:
            return Verdict(True, "parallax", **seen)
        if flat:
            return Verdict(False, "flat", **seen)
        return Verdict(None, "no_motion" if motion < limits.motion else "small_motion", **seen)
    if challenge == "blink":
        seen["blink"] = closure = _deepest_blink(points, limits)
        done = closure > 0
    else:
        seen["turn"] = turn = _largest_rise(yaw if challenge == "turn_left" else -yaw)
        done = turn >= limits.turn_degrees and parallax
        flat = flat or (turn >= limits.turn_degrees and not parallax)
    if flat:
        return Verdict(False, "flat", **seen)
    if done:
        return Verdict(True, "challenge_done", **seen)
    return Verdict(None, "challenge_not_done", **seen)


def _as_points(tracks: Sequence[np.ndarray]) -> np.ndarray:
    arrays = [np.asarray(frame, dtype=np.float64) for frame in tracks]
    for frame in arrays:
        if frame.ndim != 2 or frame.shape[0] != POINTS or frame.shape[1] not in (2, 3):
            raise ValueError(f"Expected landmarks of shape ({POINTS}, 2) or ({POINTS}, 3), not {frame.shape}.")
        if not np.isfinite(frame[:, :2]).all():
            raise ValueError("Landmarks must be finite numbers.")
    return np.stack([frame[:, :2] for frame in arrays]) if arrays else np.zeros((0, POINTS, 2))


def _face_size(frame: np.ndarray) -> float:
    extent = frame.max(axis=0) - frame.min(axis=0)
    return float(np.sqrt(max(extent[0] * extent[1], 1e-12)))


def _rigid_points(frame: np.ndarray) -> np.ndarray:
    """Indices of the points that move only with the head, on this face."""
    scaled = frame / _face_size(frame)
    moving = scaled[list(NON_RIGID)]
    nearest = np.linalg.norm(scaled[:, None, :] - moving[None, :, :], axis=2).min(axis=1)
    return np.flatnonzero(nearest > NON_RIGID_RADIUS)


def _motion_and_residual(points: np.ndarray) -> tuple[float, float]:
    """The largest change of shape beyond a similarity, and the largest residual after a homography, over
    all pairs of frames; in fractions of the earlier frame's face size."""
    import cv2

    rigid = _rigid_points(points[0])
    motion = residual = 0.0
    for i in range(len(points) - 1):
        size = _face_size(points[i])
        centre = points[i][rigid].mean(axis=0)
        a = (points[i][rigid] - centre) / size
        for j in range(i + 1, len(points)):
            b = (points[j][rigid] - centre) / size
            motion = max(motion, _rms(np.linalg.norm(_similarity_fit(a, b) - b, axis=1)))
            homography, _ = cv2.findHomography(a, b, 0)
            if homography is None:
                continue
            projected = cv2.perspectiveTransform(a[None], homography)[0]
            errors = np.sort(np.linalg.norm(projected - b, axis=1))
            residual = max(residual, _rms(errors[: max(4, int(_TRIM * len(errors)))]))
    return motion, residual


def _similarity_fit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` moved by the least-squares similarity (rotation, scale, shift) onto ``b`` (Umeyama)."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    da, db = a - mean_a, b - mean_b
    u, singular, vt = np.linalg.svd(db.T @ da)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    correction = np.diag([1.0, sign])
    rotation = u @ correction @ vt
    scale = float((singular * np.diag(correction)).sum() / max((da**2).sum(), 1e-12))
    return scale * da @ rotation.T + mean_b


def _rms(distances: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(distances)))) if len(distances) else 0.0


def _yaw_index(frame: np.ndarray) -> float:
    """Measured along the line through the outer eye corners, so that rolling the head changes nothing."""
    across = frame[_EYE_CORNERS[1]] - frame[_EYE_CORNERS[0]]
    length = np.linalg.norm(across)
    if length < 1e-9:
        return 0.0
    x = frame @ (across / length)
    nose = x[list(_NOSE)].mean()
    left = x[list(_OUTLINE_IMAGE_LEFT)].mean()
    right = x[list(_OUTLINE_IMAGE_RIGHT)].mean()
    width = right - left
    if abs(width) < 1e-9:
        return 0.0
    return float(((nose - left) - (right - nose)) / width)


def _largest_rise(series: np.ndarray) -> float:
    """The largest increase from an earlier frame to a later one (0 when it never rises)."""
    lowest_before = np.minimum.accumulate(series)
    return float(max(0.0, (series - lowest_before).max()))


def eye_aspect_ratio(frame: np.ndarray) -> float:
    """Mean over both eyes of lid-to-lid over corner-to-corner distance: about 0.2-0.35 open, lower shut."""
    ratios = []
    for corner_a, corner_b, up_1, down_1, up_2, down_2 in _EYE_POINTS:
        width = np.linalg.norm(frame[corner_a] - frame[corner_b])
        lids = np.linalg.norm(frame[up_1] - frame[down_1]) + np.linalg.norm(frame[up_2] - frame[down_2])
        ratios.append(lids / (2 * width) if width > 1e-9 else 0.0)
    return float(np.mean(ratios))


def _deepest_blink(points: np.ndarray, limits: Thresholds) -> float:
    """1 - closed/open eye aspect ratio of the deepest blink (open, shut, open again), 0 when none."""
    ratios = np.array([eye_aspect_ratio(frame) for frame in points])
    deepest = 0.0
    for shut in range(1, len(ratios) - 1):
        before, after = ratios[:shut].max(), ratios[shut + 1 :].max()
        if before <= 0:
            continue
        if ratios[shut] <= limits.blink_closed * before and after >= limits.blink_reopened * before:
            deepest = max(deepest, 1 - ratios[shut] / before)
    return deepest


def judge_frames(
    frames: Sequence[np.ndarray],
    *,
    challenge: str | None = None,
    engine=None,
    landmark_model=None,
    thresholds: Thresholds | None = None,
) -> Verdict:
    """Judge the RGB uint8 frames of one encounter, in capture order, exactly as a kiosk's are judged:
    the largest face of each frame (the engine's detector) must continue the previous frame's (their
    boxes overlapping by ``track_iou``), or the verdict is inconclusive ("no_face", "face_lost"); then
    the landmarks of each face go to ``judge``. ``engine`` and ``landmark_model`` default to the
    process's (faces.pipeline.get_engine, faces.landmarks.get_landmark_model)."""
    if challenge is not None and challenge not in CHALLENGES:
        raise ValueError(f"Unknown liveness challenge {challenge!r}: one of {', '.join(sorted(CHALLENGES))}.")
    limits = thresholds or configured_thresholds()
    if engine is None:
        from faces.pipeline import get_engine

        engine = get_engine()
    if landmark_model is None:
        from faces.landmarks import get_landmark_model

        landmark_model = get_landmark_model()
    tracks = []
    previous = None
    for rgb in frames:
        boxes = engine.detect_boxes(rgb)
        if not boxes:
            reason = "face_lost" if previous is not None else "no_face"
            return Verdict(None, reason, frames=len(tracks), challenge=challenge)
        box = boxes[0]
        if previous is not None and box_overlap(previous, box) < limits.track_iou:
            return Verdict(None, "face_lost", frames=len(tracks), challenge=challenge)
        tracks.append(landmark_model.landmarks(rgb, box))
        previous = box
    return judge(tracks, challenge=challenge, thresholds=limits)


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    width = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = width * height
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0

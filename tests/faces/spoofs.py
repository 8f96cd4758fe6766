"""Synthetic liveness sequences, made in memory: pictures held in front of a camera, and live heads.

Attacks are frames of a 640x480 camera looking at a shared photo as a flat picture: repeated still,
turned about its vertical axis, slid and zoomed, rotated in plane, or shown on a screen (moire, glare).
Each frame is the photo warped by the homography a pinhole camera sees of a plane. Genuine tracks are
landmarks of a 3D face (FaceMesh's own 468 points with their depth, from a frontal photo) turned in yaw
and pitch and projected through a pinhole camera, with landmark noise like the model's jitter.
numpy and OpenCV only.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

FRAME = (640, 480)  # width, height
FOCAL = 600.0  # pixels: a webcam's ~56 degrees across 640
FACE_PX = 170.0  # how wide the face in a held picture looks, facing the camera
DISTANCE = 0.6  # metres from the camera to the picture or the head
HEAD_SIZE = 0.15  # metres: root of the area of a face's landmarks' box
# Measured on the shared photos (tests/faces/test_liveness.py, test_landmark_jitter_is_small): FaceMesh's
# points move 0.1-0.25% of the face's size (RMS) between frames of a still scene. Genuine tracks get
# 0.3%, a little more than measured.
LANDMARK_JITTER = 0.003

Box = tuple[int, int, int, int]


def _rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Degrees. Camera axes: x right, y down, z away from the camera. ``yaw`` > 0 turns a face to the
    person's own left (its nose towards the image's right), ``pitch`` > 0 tips its top away."""
    y, p, r = np.radians([yaw, pitch, roll])
    turn = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    tip = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    spin = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return turn @ tip @ spin


def _camera() -> np.ndarray:
    return np.array([[FOCAL, 0, FRAME[0] / 2], [0, FOCAL, FRAME[1] / 2], [0, 0, 1]])


def picture_homography(
    box: Box,
    *,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    zoom: float = 1.0,
) -> np.ndarray:
    """Photo pixels -> frame pixels for the photo held as a flat picture, its face (``box``) centred and
    FACE_PX * ``zoom`` wide, turned by ``yaw``/``pitch``/``roll`` degrees about the face's centre and
    moved by ``shift`` frame pixels."""
    x, y, w, h = box
    metres_per_pixel = FACE_PX * zoom / w * DISTANCE / FOCAL
    to_plane = np.array([[metres_per_pixel, 0, -metres_per_pixel * (x + w / 2)]])
    to_plane = np.vstack([to_plane, [0, metres_per_pixel, -metres_per_pixel * (y + h / 2)], [0, 0, 1]])
    rotation = _rotation(yaw, pitch, roll)
    where = np.array([shift[0] * DISTANCE / FOCAL, shift[1] * DISTANCE / FOCAL, DISTANCE])
    homography = _camera() @ np.column_stack([rotation[:, 0], rotation[:, 1], where]) @ to_plane
    return homography / homography[2, 2]


def background(rng: np.random.Generator) -> np.ndarray:
    """A room behind the picture: a colour with a soft gradient and some texture."""
    width, height = FRAME
    frame = np.empty((height, width, 3), np.float32)
    frame[:] = rng.uniform(60, 200, 3)
    frame += np.linspace(-30, 30, width, dtype=np.float32)[None, :, None]
    texture = cv2.resize(rng.normal(0, 12, (height // 16, width // 16, 3)).astype(np.float32), FRAME)
    return frame + texture


def render(picture: np.ndarray, homography: np.ndarray, room: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One camera frame of ``picture`` (float or uint8 RGB) warped by ``homography`` in front of ``room``,
    with sensor noise."""
    width, height = FRAME
    warped = cv2.warpPerspective(picture.astype(np.float32), homography, (width, height), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones(picture.shape[:2], np.float32), homography, (width, height))[..., None]
    frame = room * (1 - inside) + warped * inside + rng.normal(0, 2.0, room.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def on_screen(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``photo`` as a phone or monitor shows it to a camera: the pixel grid beating with the camera's
    (moire), and the backlight lifting the blacks."""
    height, width = photo.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(2.5, 4.0)
    grid = 0.85 + 0.15 * np.cos(2 * np.pi * (columns * np.cos(angle) + rows * np.sin(angle)) / period)
    return photo.astype(np.float32) * grid[..., None] * 0.9 + 20


def with_glare(frame: np.ndarray, centre: tuple[float, float], radius: float, strength: float) -> np.ndarray:
    """A reflection on the glass: a bright soft spot."""
    height, width = frame.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    spot = strength * np.exp(-((columns - centre[0]) ** 2 + (rows - centre[1]) ** 2) / (2 * radius**2))
    return np.clip(frame.astype(np.float32) + spot[..., None], 0, 255).astype(np.uint8)


# Attacks: (photo, face box, frames, rng) -> frames. Angles up to 25 degrees, as the issue asks.


def still(photo: np.ndarray, box: Box, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A picture that does not move: one frame repeated, or (half the time) a print held still, each frame
    with its own sensor noise and a pixel of hand tremor."""
    room = background(rng)
    yaw = rng.uniform(-10, 10)
    if rng.random() < 0.5:
        frame = render(photo, picture_homography(box, yaw=yaw), room, rng)
        return [frame.copy() for _ in range(count)]
    return [
        render(photo, picture_homography(box, yaw=yaw, shift=tuple(rng.uniform(-1, 1, 2))), room, rng)
        for _ in range(count)
    ]


def turned(photo: np.ndarray, box: Box, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A print turned about its vertical axis, up to 25 degrees either way, with a little tilt."""
    room = background(rng)
    start, end = rng.uniform(-25, 0), rng.uniform(0, 25)
    if rng.random() < 0.5:
        start, end = end, start
    tilt = rng.uniform(-8, 8)
    return [
        render(photo, picture_homography(box, yaw=angle, pitch=tilt), room, rng)
        for angle in np.linspace(start, end, count)
    ]


def slid_and_zoomed(photo: np.ndarray, box: Box, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A print moved across the view and towards the camera."""
    room = background(rng)
    shift = rng.uniform(-60, 60, 2)
    zoom = rng.uniform(0.8, 1.25)
    steps = np.linspace(-0.5, 0.5, count)
    return [
        render(photo, picture_homography(box, shift=tuple(step * shift), zoom=zoom**step), room, rng) for step in steps
    ]


def rotated_in_plane(photo: np.ndarray, box: Box, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A print rotated in its own plane, up to 25 degrees either way."""
    room = background(rng)
    start, end = rng.uniform(-25, 0), rng.uniform(0, 25)
    return [render(photo, picture_homography(box, roll=angle), room, rng) for angle in np.linspace(start, end, count)]


def screen(photo: np.ndarray, box: Box, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A phone showing the photo, turned and tilted up to 25 degrees, moire on it and glare moving across."""
    room = background(rng)
    shown = on_screen(photo, rng)
    yaw = rng.uniform(-25, 25, 2)
    pitch = rng.uniform(-15, 15, 2)
    frames = []
    for step in np.linspace(0, 1, count):
        homography = picture_homography(
            box, yaw=yaw[0] + step * (yaw[1] - yaw[0]), pitch=pitch[0] + step * (pitch[1] - pitch[0])
        )
        frame = render(shown, homography, room, rng)
        spot = (FRAME[0] * (0.3 + 0.4 * step), FRAME[1] * 0.4)
        frames.append(with_glare(frame, spot, radius=40, strength=120))
    return frames


ATTACKS: dict[str, Callable[..., list[np.ndarray]]] = {
    "still": still,
    "turned": turned,
    "slid_and_zoomed": slid_and_zoomed,
    "rotated_in_plane": rotated_in_plane,
    "screen": screen,
}


# Genuine heads.


def head_from_landmarks(points: np.ndarray) -> np.ndarray:
    """A 3D head in metres (468, 3) from FaceMesh's (x, y, z) of a face seen from the front: centred, scaled
    to HEAD_SIZE, its centre of rotation set 3 cm behind the landmarks' centroid (towards the neck)."""
    points = np.asarray(points, dtype=np.float64)
    extent = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    head = (points - points.mean(axis=0)) / np.sqrt(extent[0] * extent[1]) * HEAD_SIZE
    return head - [0.0, 0.0, 0.03]


def project(
    head: np.ndarray,
    *,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    distance: float = DISTANCE,
    focal: float = FOCAL,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The head's landmarks (468, 2) in a pinhole camera's frame, turned by the given degrees."""
    placed = head @ _rotation(yaw, pitch, roll).T + [offset[0], offset[1], distance]
    return focal * placed[:, :2] / placed[:, 2:3] + np.array(FRAME) / 2


def genuine_track(
    head: np.ndarray,
    rng: np.random.Generator,
    *,
    yaw_swing: float,
    pitch_swing: float = 0.0,
    count: int = 6,
    jitter: float = LANDMARK_JITTER,
) -> list[np.ndarray]:
    """A live head turning by ``yaw_swing`` and ``pitch_swing`` degrees (signed) over ``count`` frames, from
    a random pose near the camera's axis, at a random distance and position, with landmark noise of
    ``jitter`` times the face's size (RMS over both coordinates)."""
    yaw0, pitch0 = rng.uniform(-12, 12), rng.uniform(-8, 8)
    distance = rng.uniform(0.45, 0.9)
    focal = rng.uniform(500, 900)
    offset = (rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04))
    roll = rng.uniform(-5, 5)
    size_px = focal * HEAD_SIZE / distance
    track = []
    for step in np.linspace(0, 1, count):
        points = project(
            head,
            yaw=yaw0 + step * yaw_swing,
            pitch=pitch0 + step * pitch_swing,
            roll=roll + rng.normal(0, 0.5),
            distance=distance + rng.normal(0, 0.003),
            focal=focal,
            offset=offset,
        )
        track.append(points + rng.normal(0, jitter * size_px / np.sqrt(2), points.shape))
    return track


def with_blink(track: list[np.ndarray], shut: int, closure: float) -> list[np.ndarray]:
    """``track`` with the eyes ``closure`` (0 open, 1 shut) closed in frame ``shut``: the upper and lower lid
    points move towards each eye's corner line."""
    from faces.liveness import _EYES

    blinked = [frame.copy() for frame in track]
    frame = blinked[shut]
    for corners, lids in (((33, 133), [p for p in _EYES if p < 249]), ((362, 263), [p for p in _EYES if p >= 249])):
        a, b = frame[corners[0]], frame[corners[1]]
        direction = (b - a) / np.linalg.norm(b - a)
        for index in lids:
            if index in corners:
                continue
            along = a + direction * float((frame[index] - a) @ direction)
            frame[index] = frame[index] + closure * (along - frame[index])
    return blinked

"""faces.detectors on the shared labelled photos: face counts, boxes in input pixels, small camera faces,
threads, and the leak in yuface's own binding that the detector avoids. No Redis, no database.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from faces import detectors
from faces.detectors import DetectorUnavailable, YuFaceDetector
from tests.conftest import FACES_DIR as DATA
from tests.thread_race import race_in_subprocess

pytestmark = pytest.mark.database_independent

REPO = Path(__file__).resolve().parents[2]
GROUPS = {"_group/two_people.jpg": 2, "_group/couple.jpg": 2, "_group/multiface.jpg": 6}
THREAD_PHOTOS = ("angelina_jolie/01.jpg", "_group/multiface.jpg", "barack_obama/01.jpg", "_none/chelsea.png")


@pytest.fixture(autouse=True)
def _clean_redis():
    """The detectors touch neither Redis nor the database: this replaces conftest's Redis flush."""
    yield


def load_rgb(name: str, max_side: int = 1280) -> np.ndarray:
    """The photo as the engine hands it to a detector: RGB, at most 1280 px long."""
    with Image.open(DATA / name) as image:
        photo = ImageOps.exif_transpose(image).convert("RGB")
    photo.thumbnail((max_side, max_side))
    return np.asarray(photo)


def manifest_files(faces_in_image: str) -> list[str]:
    with open(DATA / "manifest.csv", newline="") as handle:
        return [row["file"] for row in csv.DictReader(handle) if row["faces_in_image"] == faces_in_image]


@pytest.fixture(scope="module", params=[320, 640], ids=["kiosk-320", "camera-640"])
def counts(request) -> dict[str, int]:
    detector = YuFaceDetector(max_side=request.param)
    names = manifest_files("1") + manifest_files("0") + list(GROUPS)
    return {name: len(detector.detect(load_rgb(name))) for name in names}


def test_every_single_face_photo_gives_exactly_one_face(counts: dict[str, int]) -> None:
    singles = manifest_files("1")
    assert len(singles) == 65  # with the profile behind a camera, which HOG misses
    assert {name: counts[name] for name in singles if counts[name] != 1} == {}


def test_group_photos_give_all_their_faces(counts: dict[str, int]) -> None:
    assert {name: counts[name] for name in GROUPS} == GROUPS


def test_photos_without_a_face_give_none(counts: dict[str, int]) -> None:
    empty = manifest_files("0")
    assert len(empty) == 6
    assert {name: counts[name] for name in empty if counts[name]} == {}


def test_boxes_are_in_the_input_pixels_largest_first() -> None:
    detector = YuFaceDetector()
    full = load_rgb("_group/couple.jpg", max_side=2280)  # the original size, 2280x1588
    half = np.asarray(Image.fromarray(full).resize((full.shape[1] // 2, full.shape[0] // 2)))
    big, small = detector.detect(full), detector.detect(half)
    assert len(big) == len(small) == 2
    sides = [box[2] - box[0] for box, _ in big]
    assert sides == sorted(sides, reverse=True) and min(sides) > 300
    for (box, score), (half_box, _) in zip(big, small, strict=True):
        assert 0.8 <= score <= 1
        assert np.abs(np.array(box) - 2 * np.array(half_box)).max() <= 0.05 * (box[2] - box[0])


def test_camera_frame_faces_of_48_px_are_found_at_640() -> None:
    """An IP camera's 1280x720 frame with a 48 px face, off centre: the camera setting finds it."""
    photo = load_rgb("barack_obama/01.jpg")
    [(box, _)] = YuFaceDetector().detect(photo)
    scale = 48 / (box[2] - box[0])
    shrunk = np.asarray(Image.fromarray(photo).resize((round(photo.shape[1] * scale), round(photo.shape[0] * scale))))
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[300 : 300 + shrunk.shape[0], 900 : 900 + shrunk.shape[1]] = shrunk
    [(found, _)] = YuFaceDetector(max_side=640).detect(frame)
    expected = np.array(box) * scale + [900, 300, 900, 300]
    assert np.abs(np.array(found) - expected).max() < 8


def test_rejects_an_image_that_is_not_rgb_uint8() -> None:
    with pytest.raises(ValueError):
        YuFaceDetector().detect(np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(ValueError):
        YuFaceDetector().detect(np.zeros((64, 64, 3), dtype=np.float32))


def test_an_untested_yuface_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detectors, "_yuface", None)
    monkeypatch.setattr(detectors.importlib.metadata, "version", lambda name: "2099.1")
    with pytest.raises(DetectorUnavailable, match="2099.1"):
        YuFaceDetector().detect(np.zeros((64, 64, 3), dtype=np.uint8))


def test_repeated_calls_do_not_leak() -> None:
    """yuface's own binding leaks 36 KB a call (105 MiB over these 3,000); the detector bypasses it."""
    detector = YuFaceDetector()
    frame = np.zeros((32, 32, 3), np.uint8)
    detector.detect(frame)
    before = resident_mib()
    for _ in range(3000):
        detector.detect(frame)
    assert resident_mib() - before < 10


def resident_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


IMPORT_PROBE = """
import json, sys
import faces.detectors
print(json.dumps({
    "django": any(name.split(".")[0] == "django" for name in sys.modules),
    "yuface": "yuface" in sys.modules,
    "library": "libfacedetection" in open("/proc/self/maps").read(),
}))
"""


def test_importing_loads_neither_django_nor_the_library() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == {"django": False, "yuface": False, "library": False}


def test_threads_on_different_photos_get_the_serial_answers() -> None:
    """Four threads share one detector, each starting on its own photo: every answer equals the serial one."""
    photos = [DATA / name for name in THREAD_PHOTOS]
    outcome = race_in_subprocess(
        "faces.detectors:YuFaceDetector", {"max_side": 640}, "detect", photos, threads=4, rounds=50
    )
    assert outcome["wrong"] == [] and outcome["calls"] == 200
    assert outcome["faces"][0] == 1 and outcome["faces"][-1] == 0

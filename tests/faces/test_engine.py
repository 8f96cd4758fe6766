"""faces.engine on the shared labelled photos: face counts, geometry, the weights error, and that
deepface stays unimported until first use. Verification accuracy is in test_recognition.py.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image, ImageOps

from faces import engine as engine_module
from faces.engine import (
    Engine,
    EngineConfig,
    EngineConfigError,
    EngineUnavailable,
    Face,
)
from faces.matching import Gallery
from faces.weights import INSTALL_COMMAND, REQUIRED_WEIGHTS, install_weights
from tests.conftest import FACES_DIR as DATA
from tests.thread_race import race_in_subprocess

pytestmark = pytest.mark.database_independent

REPO = Path(__file__).resolve().parents[2]
# Manifest note: "person in profile behind a camera; frontal detectors (dlib HOG) find no face".
PROFILE_ONLY = {"_unknown/camera.png"}


def load_rgb(name: str) -> np.ndarray:
    with Image.open(DATA / name) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def distance(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine distance, as the gallery search measures it (faces.matching)."""
    return Gallery([("first", first), ("second", second)]).pair_distance("first", "second")


def accept_distance() -> float:
    return settings.FACES["ACCEPT_DISTANCE"]


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def deepface_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("deepface")
    install_weights(home)
    return home


@pytest.fixture(scope="module")
def engine(deepface_home: Path) -> Engine:
    """dlib's HOG detector: the shared photos' fixture covers the configured one (yuface)."""
    engine = Engine(EngineConfig(deepface_home=deepface_home, detector_backend="dlib"))
    engine.load()
    return engine


@pytest.fixture(scope="module")
def manifest() -> list[dict[str, str]]:
    return read_csv("manifest.csv")


@pytest.fixture(scope="module")
def faces_by_file(shared_photos) -> dict[str, list]:
    """Every photo in the manifest (which covers pairs.csv), detected and embedded once per run."""
    return {name: photo.faces for name, photo in shared_photos.items()}


def test_photos_without_a_face_give_no_face(faces_by_file: dict[str, list[Face]]) -> None:
    empty = [name for name in faces_by_file if name.startswith("_none/")]
    assert len(empty) == 6
    assert {name: len(faces_by_file[name]) for name in empty} == dict.fromkeys(empty, 0)


def test_group_photos_give_several_faces(faces_by_file: dict[str, list[Face]]) -> None:
    groups = {name: len(faces) for name, faces in faces_by_file.items() if name.startswith("_group/")}
    assert len(groups) == 3
    assert all(count > 1 for count in groups.values()), groups


def test_single_face_photos_give_exactly_one_face(
    faces_by_file: dict[str, list[Face]], manifest: list[dict[str, str]]
) -> None:
    singles = [row["file"] for row in manifest if row["faces_in_image"] == "1" and row["file"] not in PROFILE_ONLY]
    assert len(singles) == 64
    assert {name: len(faces_by_file[name]) for name in singles if len(faces_by_file[name]) != 1} == {}


def test_a_face_in_profile_is_found_by_yuface_not_by_hog(faces_by_file: dict[str, list[Face]], engine: Engine) -> None:
    """The shared photos are embedded by the configured pipeline (yuface); ``engine`` is dlib's HOG."""
    assert len(faces_by_file["_unknown/camera.png"]) == 1
    assert engine.detect_and_embed(load_rgb("_unknown/camera.png")) == []


def test_face_is_described_in_input_pixels(engine: Engine) -> None:
    rgb = load_rgb("deepface_p11/03.jpg")  # 3061x4600: the engine works on a 1280 px copy
    [face] = engine.detect_and_embed(rgb)
    x, y, w, h = face.box
    assert 0 <= x < x + w <= rgb.shape[1] and 0 <= y < y + h <= rgb.shape[0]
    assert face.quality.size_px == min(w, h) > 500
    assert len(face.landmarks) == 5
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in face.landmarks)
    assert face.embedding.dtype == np.float32 and face.embedding.shape == (128,)
    assert abs(float(np.linalg.norm(face.embedding)) - 1) < 1e-5
    assert not face.embedding.flags.writeable
    assert face.quality.sharpness > 0 and 0 < face.quality.brightness < 255
    assert face.detector_score is not None and face.detector_score > 0


def test_webcam_sized_frame_matches_the_full_photo(engine: Engine, faces_by_file: dict[str, list[Face]]) -> None:
    image = ImageOps.exif_transpose(Image.open(DATA / "angelina_jolie/05.jpg")).convert("RGB")
    image.thumbnail((640, 480))
    frame = Image.new("RGB", (640, 480))
    frame.paste(image, ((640 - image.width) // 2, 0))
    [face] = engine.detect_and_embed(np.asarray(frame))
    assert distance(face.embedding, faces_by_file["angelina_jolie/05.jpg"][0].embedding) < accept_distance() / 2


def test_skip_detector_embeds_a_face_crop(deepface_home: Path, faces_by_file: dict[str, list[Face]]) -> None:
    rgb = load_rgb("barack_obama/01.jpg")
    x, y, w, h = faces_by_file["barack_obama/01.jpg"][0].box
    crop = np.ascontiguousarray(rgb[y : y + h, x : x + w])
    [face] = Engine(EngineConfig(deepface_home=deepface_home, detector_backend="skip")).detect_and_embed(crop)
    assert face.box == (0, 0, w, h) and face.detector_score is None
    assert distance(face.embedding, faces_by_file["barack_obama/01.jpg"][0].embedding) < accept_distance()


def test_rejects_an_image_that_is_not_rgb_uint8(engine: Engine) -> None:
    with pytest.raises(ValueError):
        engine.detect_and_embed(np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(ValueError):
        engine.detect_and_embed(np.zeros((64, 64, 3), dtype=np.float32))


def test_missing_weights_name_the_files_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable) as excinfo:
        Engine(EngineConfig(deepface_home=tmp_path)).load()
    message = str(excinfo.value)
    assert INSTALL_COMMAND in message
    assert all(name in message for name in REQUIRED_WEIGHTS)


@pytest.mark.parametrize("options", [{"model_name": "Facenet"}, {"detector_backend": "mtcnn"}, {"detect_max_side": 64}])
def test_config_rejects_what_does_not_work_offline(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(EngineConfigError):
        EngineConfig(deepface_home=tmp_path, **options)


def test_opencv_detector_without_its_cascade_is_unavailable(
    deepface_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path))
    monkeypatch.setattr(engine_module, "HAARCASCADE_DIRS", (str(tmp_path),))
    with pytest.raises(EngineUnavailable, match="opencv-data"):
        Engine(EngineConfig(deepface_home=deepface_home, detector_backend="opencv")).load()


PROBE = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("error", DeprecationWarning)
before = list(warnings.filters)
from faces.engine import Engine, EngineConfig
engine = Engine(EngineConfig(deepface_home=sys.argv[1]))
lazy = not [name for name in sys.modules if name.split(".")[0] in ("deepface", "dlib", "cv2")]
faces = engine.detect_and_embed(np.zeros((120, 160, 3), dtype=np.uint8))
print(json.dumps({
    "lazy": lazy, "loaded": "deepface.modules.modeling" in sys.modules,
    "faces": len(faces), "filters_restored": warnings.filters == before,
}))
"""


def test_deepface_is_imported_on_first_use_and_warning_filters_survive(deepface_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(deepface_home)], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "lazy": True,
        "loaded": True,
        "faces": 0,
        "filters_restored": True,
    }


def test_engine_is_safe_across_threads_on_different_images(deepface_home: Path) -> None:
    """Four threads share one engine (HOG, then the shipped yuface), each on its own photo: every answer
    equals the one-thread answer. Two threads on one HOG detector used to corrupt dlib's heap."""
    photos = [DATA / name for name in ("angelina_jolie/01.jpg", "_group/multiface.jpg", "barack_obama/01.jpg")]
    photos.append(DATA / "_none/chelsea.png")
    for detector in ("dlib", "yuface"):
        options = {"deepface_home": str(deepface_home), "detector_backend": detector}
        outcome = race_in_subprocess(
            "tests.thread_race:engine", options, "detect_and_embed", photos, threads=4, rounds=6
        )
        assert outcome == {"calls": 24, "faces": [1, 6, 1, 0], "wrong": []}, detector


def kiosk_frame(name: str, shift: int) -> np.ndarray:
    """The photo fitted on a black 640x480 frame, as a kiosk's webcam (or the benchmarks) would send it."""
    with Image.open(DATA / name) as image:
        photo = ImageOps.exif_transpose(image).convert("RGB")
    photo.thumbnail((640, 480))
    frame = Image.new("RGB", (640, 480))
    frame.paste(photo, ((640 - photo.width) // 2 + shift, (480 - photo.height) // 2))
    return np.asarray(frame)


def test_kiosk_frames_of_one_face_give_one_face(manifest: list[dict[str, str]]) -> None:
    """With the shipped detector (yuface at 320 px): its 0.8 floor drew phantom faces in such frames."""
    from faces.pipeline import get_engine

    engine = get_engine()
    singles = [row["file"] for row in manifest if row["faces_in_image"] == "1" and row["file"] not in PROFILE_ONLY]
    counts = {
        (name, shift): len(engine.detect_and_embed(kiosk_frame(name, shift))) for name in singles for shift in (0, 2)
    }
    assert {key: n for key, n in counts.items() if n != 1} == {}

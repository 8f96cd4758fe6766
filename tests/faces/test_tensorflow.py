"""DeepFace on its TensorFlow backend, offline: what requirements/tensorflow.txt promises.

Skipped where TensorFlow is not installed (the default test run); scripts/test_tensorflow.sh runs these
tests in .venv-tf and sets ATTENDX_REQUIRE_TENSORFLOW, so that there a missing TensorFlow fails instead.
One probe subprocess does the work (importing deepface with TensorFlow costs seconds and hundreds of MB,
which stay out of the pytest process): our engine embeds the photos first, then DeepFace embeds them on
TensorFlow with the Dlib model and mtcnn. Nothing may be downloaded: proxies point at a closed port.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from faces.matching import Decision, Gallery, Thresholds, decide
from faces.weights import REQUIRED_WEIGHTS, install_weights, weights_dir

if importlib.util.find_spec("tensorflow") is None:
    if os.environ.get("ATTENDX_REQUIRE_TENSORFLOW"):
        raise ImportError("ATTENDX_REQUIRE_TENSORFLOW is set but TensorFlow is not installed")
    pytest.skip(
        "TensorFlow is not installed: requirements/tensorflow.txt, run by scripts/test_tensorflow.sh",
        allow_module_level=True,
    )

pytestmark = pytest.mark.tensorflow

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "faces"
# About 1000x1000 at most: mtcnn on angelina_jolie/01.jpg (1382x1868) alone peaks at 2.2 GB.
PHOTOS = {
    "probe": DATA / "angelina_jolie" / "05.jpg",
    "same_person": DATA / "angelina_jolie" / "06.jpg",
    "other_person": DATA / "barack_obama" / "01.jpg",
}
DEAD_PROXY = "http://127.0.0.1:9"

PROBE = """
import json, resource, sys, time
import numpy as np
from PIL import Image, ImageOps
from faces.engine import Engine, EngineConfig

home, photos = sys.argv[1], json.loads(sys.argv[2])
engine = Engine(EngineConfig(deepface_home=home))

def pixels(path):
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))

ours = {
    name: [face.embedding.tolist() for face in engine.detect_and_embed(pixels(path))]
    for name, path in photos.items()
}
tensorflow_after_our_engine = "tensorflow" in sys.modules

started = time.monotonic()
from deepface import DeepFace
import_seconds = time.monotonic() - started
started = time.monotonic()
theirs = {
    name: DeepFace.represent(img_path=path, model_name="Dlib", detector_backend="mtcnn")
    for name, path in photos.items()
}
print(json.dumps({
    "ours": ours,
    "theirs": theirs,
    "tensorflow_after_our_engine": tensorflow_after_our_engine,
    "tensorflow_after_deepface": "tensorflow" in sys.modules,
    "import_seconds": round(import_seconds, 2),
    "represent_seconds": round(time.monotonic() - started, 2),
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}))
"""


@pytest.fixture(scope="module")
def deepface_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("deepface-tf")
    install_weights(home)
    return home


@pytest.fixture(scope="module")
def probe(deepface_home: Path) -> dict:
    environ = {key: value for key, value in os.environ.items() if key.upper() not in ("NO_PROXY", "ALL_PROXY")}
    environ.pop("DEEPFACE_BACKEND_ENGINE", None)  # deepface picks its engine itself, as it would in production
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        environ[name] = environ[name.lower()] = DEAD_PROXY
    environ.update(DEEPFACE_HOME=str(deepface_home), PYTHONPATH=str(REPO))
    photos = json.dumps({name: str(path) for name, path in PHOTOS.items()})
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(deepface_home), photos],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"probe failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    out = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"\ndeepface import {out['import_seconds']} s, 3 x represent (Dlib + mtcnn, cold) "
        f"{out['represent_seconds']} s, peak RSS {out['max_rss_mb']} MB"
    )
    return out


def attendx_decision(query: list[float], enrolled: dict[str, list[float]]) -> tuple[str | None, Decision]:
    """Who AttendX would check in for this face, with the thresholds in force by default."""
    faces = settings.FACES
    thresholds = Thresholds(
        accept=faces["ACCEPT_DISTANCE"],
        review=faces["REVIEW_DISTANCE"],
        margin=faces["MARGIN"],
        lookalike_margin=faces["LOOKALIKE_MARGIN"],
    )
    gallery = Gallery((person, np.asarray(embedding, dtype=np.float32)) for person, embedding in enrolled.items())
    match = gallery.search(np.asarray(query, dtype=np.float32))
    print(f"nearest {match.person} at {match.distance:.4f}, runner-up at {match.runner_up_distance:.4f}")
    return match.person, decide(match, thresholds)


def test_our_engine_stays_off_tensorflow_even_when_it_is_installed(probe: dict) -> None:
    # With TensorFlow installed the app still does not pay for it (seconds and hundreds of MB per process).
    assert {name: len(faces) for name, faces in probe["ours"].items()} == {name: 1 for name in PHOTOS}
    assert not probe["tensorflow_after_our_engine"]


def test_deepface_on_tensorflow_finds_and_embeds_one_face_offline(probe: dict, deepface_home: Path) -> None:
    assert probe["tensorflow_after_deepface"]
    for name, faces in probe["theirs"].items():
        [face] = faces
        assert len(face["embedding"]) == 128, name
        assert face["face_confidence"] > 0.9, name
        area = face["facial_area"]
        assert area["w"] > 100 and area["h"] > 100 and area["left_eye"] and area["right_eye"], name
    assert sorted(path.name for path in weights_dir(deepface_home).iterdir()) == sorted(REQUIRED_WEIGHTS)


def test_deepface_on_tensorflow_leads_to_the_same_check_in_as_our_engine(probe: dict) -> None:
    ours = {name: faces[0] for name, faces in probe["ours"].items()}
    theirs = {name: faces[0]["embedding"] for name, faces in probe["theirs"].items()}
    enrolled = {"angelina_jolie": "same_person", "barack_obama": "other_person"}
    our_check_in = attendx_decision(ours["probe"], {person: ours[photo] for person, photo in enrolled.items()})
    their_check_in = attendx_decision(theirs["probe"], {person: theirs[photo] for person, photo in enrolled.items()})
    assert our_check_in == their_check_in == ("angelina_jolie", Decision.ACCEPT)

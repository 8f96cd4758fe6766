"""DeepFace on its TensorFlow backend, offline: what requirements/tensorflow.txt promises.

Skipped where TensorFlow is not installed (the default test run); scripts/test_tensorflow.sh runs these
tests in .venv-tf and sets ATTENDX_REQUIRE_TENSORFLOW, so that there a missing TensorFlow fails instead.
Every probe runs in a subprocess: importing deepface with TensorFlow costs seconds and hundreds of MB,
which stay out of the pytest process (so this module only checks that TensorFlow is importable, it does
not import it). Nothing may be downloaded: the only weights are the dlib ones staged by
faces.weights.install_weights, and mtcnn's, which ship inside the `mtcnn` package; proxies point at a
closed port so that any download attempt fails.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faces.engine import DEFAULT_THRESHOLD, cosine_distance
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
PHOTO = DATA / "angelina_jolie" / "05.jpg"  # 750x1050: mtcnn on 01.jpg (1382x1868) peaks at 2.2 GB
SAME_PERSON = DATA / "angelina_jolie" / "02.jpg"
OTHER_PERSON = DATA / "barack_obama" / "01.jpg"
DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def deepface_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("deepface-tf")
    install_weights(home)
    return home


def run_probe(code: str, deepface_home: Path, *args: str, **env: str) -> dict:
    environ = {key: value for key, value in os.environ.items() if key.upper() not in ("NO_PROXY", "ALL_PROXY")}
    environ.pop("DEEPFACE_BACKEND_ENGINE", None)  # deepface picks its engine itself, unless a test says
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        environ[name] = environ[name.lower()] = DEAD_PROXY
    environ.update(DEEPFACE_HOME=str(deepface_home), PYTHONPATH=str(REPO), **env)
    result = subprocess.run(
        [sys.executable, "-c", code, str(deepface_home), *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"probe failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


DEEPFACE_ON_TENSORFLOW = """
import json, resource, sys, time
import numpy as np
from PIL import Image, ImageOps

home, photo, same_person, other_person = sys.argv[1:5]
started = time.monotonic()
from deepface import DeepFace
from deepface.commons import backend_utils, package_utils
from deepface.modules import modeling
import_seconds = time.monotonic() - started

started = time.monotonic()
[result] = DeepFace.represent(img_path=photo, model_name="Dlib", detector_backend="mtcnn")
represent_seconds = time.monotonic() - started

import tensorflow as tf
import tf_keras

# The detector instance deepface cached and has just run.
detector = modeling.build_model(task="face_detector", model_name="mtcnn")
networks = [stage.model for stage in detector.model.stages]

from faces.engine import Engine, EngineConfig

def embed(path):
    with Image.open(path) as image:
        rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    [face] = Engine(EngineConfig(deepface_home=home)).detect_and_embed(rgb)
    return face.embedding.tolist()

print(json.dumps({
    "backend": backend_utils.get_backend_engine(),
    "tensorflow_imported": "tensorflow" in sys.modules,
    "tf_keras_imported": "tf_keras" in sys.modules,
    "tf_version": tf.__version__,
    "tf_version_seen_by_deepface": [package_utils.get_tf_major_version(), package_utils.get_tf_minor_version()],
    "tf_keras_version": tf_keras.__version__,
    "tf_keras_is_tf_keras": tf.keras.Model is tf_keras.Model,
    "detector": type(detector).__module__ + "." + type(detector).__name__,
    "networks": [type(net).__name__ for net in networks],
    "networks_are_keras_models": [isinstance(net, tf_keras.Model) and net.built for net in networks],
    "network_weights": sum(int(np.prod(w.shape)) for net in networks for w in net.get_weights()),
    "facenet_class": modeling.get_model_class("facial_recognition", "Facenet").__module__,
    "embedding": result["embedding"],
    "face_confidence": result["face_confidence"],
    "facial_area": result["facial_area"],
    "same_person": embed(same_person),
    "other_person": embed(other_person),
    "import_seconds": round(import_seconds, 2),
    "represent_seconds": round(represent_seconds, 2),
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}))
"""


def test_deepface_runs_on_tensorflow_offline(deepface_home: Path) -> None:
    out = run_probe(DEEPFACE_ON_TENSORFLOW, deepface_home, str(PHOTO), str(SAME_PERSON), str(OTHER_PERSON))
    print(
        f"\nTensorFlow {out['tf_version']}, tf-keras {out['tf_keras_version']}: deepface import "
        f"{out['import_seconds']} s, represent (Dlib + mtcnn, cold) {out['represent_seconds']} s, "
        f"peak RSS {out['max_rss_mb']} MB"
    )
    # deepface chose TensorFlow by itself and went through its TF >= 2.16 path (legacy Keras from tf-keras).
    assert out["backend"] == "tensorflow"
    assert out["tensorflow_imported"] and out["tf_keras_imported"] and out["tf_keras_is_tf_keras"]
    major, minor = out["tf_version_seen_by_deepface"]
    assert (major, minor) >= (2, 16)
    assert out["tf_keras_version"].split(".")[:2] == out["tf_version"].split(".")[:2]
    # Recognition models dispatch to deepface's TensorFlow implementations.
    assert out["facenet_class"] == "deepface.models.facial_recognition.tf.Facenet"
    # The face was found by mtcnn: three Keras networks on TensorFlow, weights from the mtcnn package.
    assert out["detector"] == "deepface.models.face_detection.MtCnn.MtCnnClient"
    assert out["networks"] == ["PNet", "RNet", "ONet"]
    assert out["networks_are_keras_models"] == [True, True, True]
    assert out["network_weights"] > 400_000
    assert out["face_confidence"] > 0.9
    area = out["facial_area"]
    assert area["w"] > 200 and area["h"] > 200 and area["left_eye"] and area["right_eye"]
    # A 128-d Dlib embedding of the right person: closer to our engine's embedding of another photo of
    # her than to someone else's. mtcnn crops shift distances, hence no exact 0.07 threshold here.
    embedding = out["embedding"]
    assert len(embedding) == 128
    same = cosine_distance(embedding, out["same_person"])
    other = cosine_distance(embedding, out["other_person"])
    print(f"cosine distance to the same person {same:.4f}, to another person {other:.4f}")
    assert same < 2 * DEFAULT_THRESHOLD < other
    # Nothing was downloaded into the weights folder.
    assert sorted(path.name for path in weights_dir(deepface_home).iterdir()) == sorted(REQUIRED_WEIGHTS)


ENGINE_WITHOUT_TENSORFLOW = """
import json, sys
import numpy as np
from PIL import Image, ImageOps
from faces.engine import Engine, EngineConfig

with Image.open(sys.argv[2]) as image:
    rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
faces = Engine(EngineConfig(deepface_home=sys.argv[1])).detect_and_embed(rgb)
print(json.dumps({"faces": len(faces), "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def test_our_engine_does_not_load_tensorflow_even_when_installed(deepface_home: Path) -> None:
    # faces.engine builds its models through deepface.modules.modeling and never imports deepface.DeepFace,
    # whose import is what loads TensorFlow: with TensorFlow installed the app still does not pay for it.
    assert run_probe(ENGINE_WITHOUT_TENSORFLOW, deepface_home, str(SAME_PERSON)) == {
        "faces": 1,
        "tensorflow_imported": False,
    }

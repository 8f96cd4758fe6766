"""dlib's face network converted to ONNX: built from a clean checkout, equal to dlib on every shared
photo, batched per frame, and dlib's own inference as the fallback when the converted model is missing."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from faces import dlib_onnx
from faces.detectors import shrink_within
from faces.engine import CHIP_PADDING, CHIP_SIZE, Engine, EngineConfig, EngineUnavailable
from faces.weights import CONVERTED_MODEL, SOURCE_MODEL, install_weights, weights_dir
from tests.conftest import FACES_DIR, read_manifest

pytestmark = pytest.mark.database_independent


@pytest.fixture(scope="module")
def converted_home(tmp_path_factory) -> Path:
    """A DEEPFACE_HOME staged and converted from scratch, as the install step does on a clean machine."""
    home = tmp_path_factory.mktemp("deepface")
    install_weights(home)
    dlib_onnx.convert(weights_dir(home) / SOURCE_MODEL, weights_dir(home) / CONVERTED_MODEL)
    return home


@pytest.fixture(scope="module")
def both(converted_home):
    onnx_engine = Engine(EngineConfig(deepface_home=converted_home, descriptor="onnx"))
    dlib_engine = Engine(EngineConfig(deepface_home=converted_home, descriptor="dlib"))
    return onnx_engine, dlib_engine


def rgb_of(name: str) -> np.ndarray:
    with Image.open(FACES_DIR / name) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def test_the_conversion_writes_a_valid_graph(converted_home):
    import onnx

    model = onnx.load(str(weights_dir(converted_home) / CONVERTED_MODEL))
    onnx.checker.check_model(model)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 29 and ops.count("MatMul") == 1


def test_onnx_and_dlib_agree_on_every_face_of_every_shared_photo(both):
    """The same aligned chips through both: cosine distance at most 1e-4 (the issue's bound)."""
    onnx_engine, dlib_engine = both
    onnx_engine.load()
    models = onnx_engine._loaded()
    reference = dlib_engine._loaded().descriptor
    chips = []
    for row in read_manifest():
        rgb = rgb_of(row["file"])
        work = np.ascontiguousarray(shrink_within(rgb, onnx_engine.config.max_side)[0])
        for rect, _ in onnx_engine._detect(models, work, small_faces=False):
            points = models.shape_predictor(work, rect)
            chips.append(models.dlib.get_face_chip(work, points, size=CHIP_SIZE, padding=CHIP_PADDING))
    assert len(chips) >= 70
    ours = models.descriptor.embed(chips)
    theirs = reference.embed(chips)
    cosine = 1 - np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert float(cosine.max()) <= 1e-4


def test_the_faces_of_a_frame_are_embedded_in_one_batch(both, monkeypatch):
    onnx_engine, dlib_engine = both
    rgb = rgb_of("_group/multiface.jpg")
    descriptor = onnx_engine._loaded().descriptor
    calls = []
    original = descriptor.embed
    monkeypatch.setattr(descriptor, "embed", lambda chips: calls.append(len(chips)) or original(chips))
    faces = onnx_engine.detect_and_embed(rgb)
    assert calls == [6] and len(faces) == 6
    reference = dlib_engine.detect_and_embed(rgb)
    assert [face.box for face in faces] == [face.box for face in reference]
    for ours, theirs in zip(faces, reference, strict=True):
        assert 1 - float(ours.embedding @ theirs.embedding) <= 1e-4
        assert abs(float(np.linalg.norm(ours.embedding)) - 1) < 1e-5


def test_without_the_converted_model_the_engine_warns_and_runs_dlib(tmp_path, caplog):
    install_weights(tmp_path)
    engine = Engine(EngineConfig(deepface_home=tmp_path))
    with caplog.at_level(logging.WARNING, logger="faces.engine"):
        assert engine.descriptor == "dlib"
    assert f"{CONVERTED_MODEL} is missing" in caplog.text
    [face] = engine.detect_and_embed(rgb_of("angelina_jolie/01.jpg"))
    assert face.embedding.shape == (128,)
    with pytest.raises(EngineUnavailable, match="is missing"):
        Engine(EngineConfig(deepface_home=tmp_path, descriptor="onnx")).load()


def test_readyz_says_which_descriptor_is_in_use(client, db, settings, tmp_path):
    assert client.get("/readyz").json()["checks"]["face_descriptor"] == "onnxruntime"
    shutil.copytree(settings.DEEPFACE_HOME, tmp_path / "home")
    (weights_dir(tmp_path / "home") / CONVERTED_MODEL).unlink()
    settings.DEEPFACE_HOME = tmp_path / "home"
    answer = client.get("/readyz")
    assert answer.status_code == 200  # still ready: dlib's own inference is the fallback
    assert answer.json()["checks"]["face_descriptor"].startswith(f"dlib: {CONVERTED_MODEL} missing")

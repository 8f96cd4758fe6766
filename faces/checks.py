"""System checks for the FACES settings: bad thresholds or an impossible model fail at start-up."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from faces.detectors import YUFACE_VERSION
from faces.engine import DESCRIPTORS, DETECTORS, MODEL_NAME, EngineConfigError
from faces.matching import Thresholds
from faces.pipeline import engine_config
from faces.weights import INSTALL_COMMAND, missing_weights

REQUIRED_KEYS = {
    "MODEL",
    "DETECTOR",
    "DETECT_MAX_SIDE",
    "MAX_SIDE",
    "DESCRIPTOR",
    "YUFACE_MAX_SIDE",
    "YUFACE_CAMERA_MAX_SIDE",
    "ONNX_THREADS",
    "ACCEPT_DISTANCE",
    "REVIEW_DISTANCE",
    "MARGIN",
    "LOOKALIKE_MARGIN",
    "THRESHOLDS_PINNED",
    "CALIBRATION_TARGET_RATE",
    "CALIBRATION_PRIOR_DIR",
    "CALIBRATION_CACHE_DIR",
    "MIN_FACE_PX",
    "MIN_SHARPNESS",
    "MIN_BRIGHTNESS",
    "MAX_BRIGHTNESS",
    "MAX_UPLOAD_BYTES",
    "MAX_PIXELS",
    "MAX_FRAME_PIXELS",
    "MAX_DECODE_BYTES",
    "MAX_PHOTOS_PER_UPLOAD",
    "EMBEDDING_CACHE_TTL",
    "ENROLL_RATE",
    "STAFF_ENROLL_RATE",
}


@checks.register("faces")
def check_faces_settings(app_configs=None, **kwargs):
    faces = getattr(settings, "FACES", None)
    if not isinstance(faces, dict):
        return [checks.Error("settings.FACES must be a dict.", id="faces.E001")]
    missing = sorted(REQUIRED_KEYS - faces.keys())
    if missing:
        return [checks.Error(f"settings.FACES lacks {', '.join(missing)}.", id="faces.E002")]
    errors = []
    try:
        engine_config()
    except (EngineConfigError, TypeError) as error:
        errors.append(
            checks.Error(
                str(error),
                hint=(
                    f"FACES_MODEL must be {MODEL_NAME!r}; FACES_DETECTOR one of {', '.join(DETECTORS)}; "
                    f"FACES_DESCRIPTOR one of {', '.join(DESCRIPTORS)}; FACES_ONNX_THREADS at least 1."
                ),
                id="faces.E003",
            )
        )
    try:
        Thresholds(
            accept=faces["ACCEPT_DISTANCE"],
            review=faces["REVIEW_DISTANCE"],
            margin=faces["MARGIN"],
            # Never below the margin (faces.thresholds.configured_thresholds): pinning MARGIN alone is fine.
            lookalike_margin=max(faces["MARGIN"], faces["LOOKALIKE_MARGIN"]),
        )
    except (TypeError, ValueError) as error:
        errors.append(checks.Error(f"Face distance thresholds: {error}", id="faces.E004"))
    target = faces["CALIBRATION_TARGET_RATE"]
    if not isinstance(target, float | int) or not 0 < target < 1:
        errors.append(
            checks.Error(
                "FACES CALIBRATION_TARGET_RATE must be between 0 and 1 (strangers accepted per check-in).",
                hint="FACES_CALIBRATION_TARGET_RATE=0.0001 is one wrong accept in 10,000 check-ins.",
                id="faces.E008",
            )
        )
    if not faces["MIN_BRIGHTNESS"] < faces["MAX_BRIGHTNESS"]:
        errors.append(checks.Error("FACES MIN_BRIGHTNESS must be below MAX_BRIGHTNESS.", id="faces.E005"))
    for key in (
        "MIN_FACE_PX",
        "MAX_UPLOAD_BYTES",
        "MAX_PIXELS",
        "MAX_FRAME_PIXELS",
        "MAX_DECODE_BYTES",
        "MAX_PHOTOS_PER_UPLOAD",
        "EMBEDDING_CACHE_TTL",
    ):
        if not isinstance(faces[key], int) or faces[key] <= 0:
            errors.append(checks.Error(f"FACES {key} must be a positive integer.", id="faces.E006"))
    if faces["DETECTOR"] == "yuface":
        errors += _yuface_version()
    return errors


def _yuface_version():
    """faces.detectors calls the C library inside the yuface wheel, not its Python API: one version only."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("yuface")
    except PackageNotFoundError:
        installed = None
    if installed == YUFACE_VERSION:
        return []
    return [
        checks.Error(
            f"yuface {installed or 'is not installed'}: the detector is written for yuface {YUFACE_VERSION}.",
            hint=f"pip install yuface=={YUFACE_VERSION} (requirements/base.txt), or set FACES_DETECTOR=dlib.",
            id="faces.E007",
        )
    ]


@checks.register("faces", deploy=True)
def check_face_weights(app_configs=None, **kwargs):
    missing = missing_weights(settings.DEEPFACE_HOME)
    if missing:
        return [
            checks.Warning(
                "Face model weights are missing: " + ", ".join(str(path) for path in missing),
                hint=f"Run `{INSTALL_COMMAND}`.",
                id="faces.W001",
            )
        ]
    return []


@checks.register("faces")
def check_liveness_settings(app_configs=None, **kwargs):
    """settings.LIVENESS holds the liveness judge's thresholds (faces.liveness.Thresholds checks them)."""
    from faces.liveness import SETTINGS_KEYS, configured_thresholds

    values = getattr(settings, "LIVENESS", None)
    if not isinstance(values, dict):
        return [checks.Error("settings.LIVENESS must be a dict.", id="liveness.E001")]
    unknown = sorted(values.keys() - SETTINGS_KEYS.keys())
    if unknown:
        return [
            checks.Error(
                f"settings.LIVENESS has unknown keys: {', '.join(unknown)}.",
                hint=f"Known: {', '.join(SETTINGS_KEYS)} (docs/liveness.md).",
                id="liveness.E001",
            )
        ]
    try:
        configured_thresholds()
    except (TypeError, ValueError) as error:
        return [checks.Error(str(error), hint="See docs/liveness.md, Thresholds.", id="liveness.E002")]
    return []


@checks.register("faces")
def check_encryption_keys(app_configs=None, **kwargs):
    """Face data is encrypted with keys from the environment; only local and test settings have a key file."""
    from faces.crypto import GENERATE_COMMAND, configured_keys

    hint = f"Generate a key with `{GENERATE_COMMAND}` and set FACES_ENCRYPTION_KEYS; keep it out of the database."
    try:
        keys = configured_keys()
    except ImproperlyConfigured:
        return [checks.Error("FACES_ENCRYPTION_KEYS must be set in production.", hint=hint, id="faces.E009")]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            return [
                checks.Error(f"FACES_ENCRYPTION_KEYS: key {position} is not a Fernet key.", hint=hint, id="faces.E010")
            ]
    return []

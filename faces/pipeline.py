"""The process's face engine for the FACES settings, and the pipeline its embeddings are tagged with.

One engine per configuration and process; its models load on first use (faces.engine), never here.
"""

import functools
from dataclasses import asdict, dataclass

from django.conf import settings

from faces.engine import Engine, EngineConfig
from faces.weights import CONVERTED_MODEL, INSTALL_COMMAND, converted_model


@functools.cache
def _engine_for(config: EngineConfig) -> Engine:
    return Engine(config)


def engine_config() -> EngineConfig:
    """The engine the FACES settings ask for; raises EngineConfigError when they ask for the impossible."""
    faces = settings.FACES
    return EngineConfig(
        deepface_home=str(settings.DEEPFACE_HOME),
        model_name=faces["MODEL"],
        detector_backend=faces["DETECTOR"],
        detect_max_side=faces["DETECT_MAX_SIDE"],
        yuface_max_side=faces["YUFACE_MAX_SIDE"],
        yuface_small_faces_max_side=faces["YUFACE_CAMERA_MAX_SIDE"],
        max_side=faces["MAX_SIDE"],
        descriptor=faces["DESCRIPTOR"],
        onnx_threads=faces["ONNX_THREADS"],
    )


def get_engine() -> Engine:
    """The process's engine for the current settings; models load on first use, once."""
    return _engine_for(engine_config())


def descriptor_status() -> str:
    """Who runs the face network in this deployment: "onnxruntime", or "dlib: <why>" (the slow fallback)."""
    if settings.FACES["DESCRIPTOR"] == "dlib":
        return "dlib: FACES_DESCRIPTOR=dlib"
    if converted_model(settings.DEEPFACE_HOME).is_file():
        return "onnxruntime"
    return f"dlib: {CONVERTED_MODEL} missing, run `{INSTALL_COMMAND}`"


@dataclass(frozen=True)
class Pipeline:
    """What an embedding is tagged with; embeddings are only compared within one pipeline."""

    model_name: str
    detector_backend: str
    pipeline_version: str

    def tags(self) -> dict[str, str]:
        """The fields of the same names on every stored sample and calibration."""
        return asdict(self)


def current_pipeline() -> Pipeline:
    engine = get_engine()
    return Pipeline(engine.config.model_name, engine.config.detector_backend, engine.pipeline_version)

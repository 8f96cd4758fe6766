"""The accept/review thresholds in force: pinned settings, else the latest calibration of the current
pipeline, else the settings' defaults."""

import logging
from dataclasses import dataclass

from django.conf import settings

from faces.matching import Thresholds
from faces.models import FaceCalibration
from faces.pipeline import current_pipeline
from faces.selectors import latest_calibration

logger = logging.getLogger(__name__)


def configured_thresholds() -> Thresholds:
    """The thresholds the FACES settings hold: pinned values, or the built-in defaults."""
    faces = settings.FACES
    return Thresholds(
        accept=faces["ACCEPT_DISTANCE"],
        review=faces["REVIEW_DISTANCE"],
        margin=faces["MARGIN"],
        lookalike_margin=max(faces["MARGIN"], faces["LOOKALIKE_MARGIN"]),
    )


@dataclass(frozen=True)
class ThresholdsInForce:
    thresholds: Thresholds
    source: str  # "pinned", "calibration" or "defaults"
    calibration: FaceCalibration | None = None  # the latest of this pipeline, in force or not


def thresholds_in_force() -> ThresholdsInForce:
    """Pinned settings win; else the latest calibration of the current pipeline; else the defaults.

    Cheap per request: the calibration is read once per process after each new one (selectors).
    """
    calibration = latest_calibration(pipeline_version=current_pipeline().pipeline_version)
    if settings.FACES["THRESHOLDS_PINNED"]:
        return ThresholdsInForce(configured_thresholds(), "pinned", calibration)
    if calibration is not None:
        try:
            return ThresholdsInForce(calibration_thresholds(calibration), "calibration", calibration)
        except ValueError as error:  # a row edited by hand into nonsense
            logger.error("Calibration %s has impossible thresholds (%s): using the settings", calibration.pk, error)
    return ThresholdsInForce(configured_thresholds(), "defaults", calibration)


def calibration_thresholds(calibration: FaceCalibration) -> Thresholds:
    return Thresholds(
        accept=calibration.accept_distance,
        review=calibration.review_distance,
        margin=calibration.margin,
        lookalike_margin=calibration.lookalike_margin,
    )


def thresholds() -> Thresholds:
    """The thresholds in force (thresholds_in_force)."""
    if settings.FACES["THRESHOLDS_PINNED"]:
        return configured_thresholds()
    return thresholds_in_force().thresholds

"""Calibrating the thresholds on the enrolled gallery (faces.calibration does the statistics): a run,
its stored FaceCalibration, and when staff should run one again."""

import dataclasses
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from attendx.db import on_commit, run_in_transaction
from faces import calibration as calibration_core
from faces.engine import EngineUnavailable
from faces.exceptions import CalibrationRefused, ImageRejected, RecognitionUnavailable
from faces.models import FaceCalibration
from faces.pipeline import Pipeline, current_pipeline, get_engine
from faces.prior import Prior, public_prior
from faces.selectors import bump_calibration_generation, enrolled_gallery, latest_calibration
from faces.thresholds import ThresholdsInForce, thresholds_in_force
from faces.uploads import decode_upload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationRun:
    result: calibration_core.Calibration
    names: dict[str, str]  # person key -> name, for the look-alikes
    prior: Prior | None  # the public pairs, when they were available and wanted
    stored: FaceCalibration | None  # None for a dry run


def _embed_photo(data: bytes) -> list:
    try:
        image = decode_upload(data)
    except ImageRejected:
        return []
    try:
        return [face.embedding for face in get_engine().detect_and_embed(image.rgb)]
    except EngineUnavailable as exc:
        raise RecognitionUnavailable(str(exc)) from exc


def face_calibrate(*, target: float | None = None, use_prior: bool = True, store: bool = True) -> CalibrationRun:
    """Calibrate the thresholds on the enrolled gallery of the current pipeline (faces.calibration).

    ``target``: strangers accepted per check-in (FACES CALIBRATION_TARGET_RATE by default). The public
    pairs are pooled in when the gallery is small and ``use_prior`` allows. ``store`` writes a
    FaceCalibration, which every process then takes as the thresholds in force (unless pinned).
    Raises CalibrationRefused when there is not enough to calibrate on, RecognitionUnavailable when
    the prior's photos need the engine and it cannot run.
    """
    target = settings.FACES["CALIBRATION_TARGET_RATE"] if target is None else target
    pipeline = current_pipeline()
    gallery = enrolled_gallery(pipeline=pipeline)
    prior = None
    if use_prior and calibration_core.is_small(gallery):
        prior = public_prior(pipeline_version=pipeline.pipeline_version, embed=_embed_photo)
    try:
        result = calibration_core.calibrate(
            gallery,
            target=target,
            prior=(prior.genuine, prior.impostor) if prior is not None else None,
            pool=None if use_prior else False,
        )
    except ValueError as error:
        raise CalibrationRefused(str(error)) from error
    keys = sorted({key for pair in result.lookalikes for key in (pair.first, pair.second)})
    people = get_user_model().objects.in_bulk(keys) if keys else {}
    names = {str(pk): str(user) for pk, user in people.items()}
    stored = _store_calibration(result, names, pipeline) if store else None
    return CalibrationRun(result=result, names=names, prior=prior, stored=stored)


def _store_calibration(result: calibration_core.Calibration, names: dict[str, str], pipeline: Pipeline):
    limits = result.thresholds
    calibration = FaceCalibration(
        **pipeline.tags(),
        people=result.people,
        samples=result.samples,
        accept_distance=limits.accept,
        review_distance=limits.review,
        margin=limits.margin,
        lookalike_margin=limits.lookalike_margin,
        target_rate=result.target,
        prior_pooled=result.prior_pooled,
        genuine_pairs=result.genuine.total,
        impostor_pairs=result.impostor.total,
        histogram={
            "bin_width": calibration_core.CHART_BIN,
            "genuine": result.site_genuine.chart(),
            "impostor": result.site_impostor.chart(),
            "prior_genuine": result.prior_genuine.chart() if result.prior_pooled else [],
            "prior_impostor": result.prior_impostor.chart() if result.prior_pooled else [],
        },
        table=[dataclasses.asdict(row) for row in result.table()],
        lookalikes=[
            {
                "first": pair.first,
                "first_name": names.get(pair.first, pair.first),
                "second": pair.second,
                "second_name": names.get(pair.second, pair.second),
                "distance": round(pair.distance, 4),
            }
            for pair in result.lookalikes
        ],
        searches=dataclasses.asdict(result.searches),
        notes=result.notes,
    )

    def write():
        calibration.save()
        on_commit(bump_calibration_generation)
        return calibration

    saved = run_in_transaction(write)
    logger.info(
        "Calibrated on %d people: accept %.3f, review %.3f, margin %.3f, look-alike margin %.3f",
        result.people,
        limits.accept,
        limits.review,
        limits.margin,
        limits.lookalike_margin,
    )
    return saved


GROWTH_BEFORE_RECALIBRATION = 1.5


def calibration_due() -> str | None:
    """Why staff should run calibrate_faces, or None: faces are enrolled and were never calibrated
    (on this pipeline), or the gallery has grown by half its people since the last calibration."""
    people = len(enrolled_gallery(pipeline=current_pipeline()).people)
    if not people:
        return None
    latest = latest_calibration(pipeline_version=current_pipeline().pipeline_version)
    if latest is None:
        return ngettext(
            "%(count)d person is enrolled and the face thresholds were never calibrated on them: "
            "run `python manage.py calibrate_faces`.",
            "%(count)d people are enrolled and the face thresholds were never calibrated on them: "
            "run `python manage.py calibrate_faces`.",
            people,
        ) % {"count": people}
    if people >= GROWTH_BEFORE_RECALIBRATION * latest.people:
        return _(
            "The gallery has grown from %(before)d to %(now)d people since the last calibration "
            "(%(day)s): run `python manage.py calibrate_faces` again."
        ) % {"before": latest.people, "now": people, "day": f"{latest.created_at:%Y-%m-%d}"}
    return None


@dataclass(frozen=True)
class CalibrationOverview:
    """What the staff calibration page shows."""

    in_force: ThresholdsInForce
    latest: FaceCalibration | None  # of the current pipeline
    people_now: int
    samples_now: int
    due: str | None  # calibration_due()


def calibration_overview() -> CalibrationOverview:
    gallery = enrolled_gallery(pipeline=current_pipeline())
    in_force = thresholds_in_force()
    return CalibrationOverview(
        in_force=in_force,
        latest=in_force.calibration,
        people_now=len(gallery.people),
        samples_now=len(gallery),
        due=calibration_due(),
    )

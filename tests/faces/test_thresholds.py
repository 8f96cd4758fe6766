"""The thresholds in force: pinned settings, else the latest calibration of this pipeline, else the
defaults; read once per process after each calibration; and face_identify's look-alike rule."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from faces.calibration_runs import face_calibrate
from faces.embedding_cache import DetectedFace
from faces.identification import face_identify
from faces.matching import Decision, Thresholds
from faces.models import FaceCalibration
from faces.pipeline import current_pipeline
from faces.selectors import bump_calibration_generation, enrolled_gallery
from faces.thresholds import configured_thresholds, thresholds, thresholds_in_force
from tests.conftest import FACES_DIR
from tests.faces.enrolled import enroll_shared, seed_prior_cache
from tests.faces.test_calibration import closest_different_pair, face_between

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULTS = Thresholds(accept=0.07, review=0.09, margin=0.01, lookalike_margin=0.03)


@pytest.fixture
def unpinned(settings, tmp_path):
    settings.FACES = {
        **settings.FACES,
        "ACCEPT_DISTANCE": 0.07,
        "REVIEW_DISTANCE": 0.09,
        "MARGIN": 0.01,
        "LOOKALIKE_MARGIN": 0.03,
        "THRESHOLDS_PINNED": False,
        "CALIBRATION_PRIOR_DIR": FACES_DIR,
        "CALIBRATION_CACHE_DIR": tmp_path / "calibration",
    }
    return settings


def store(*, accept, review=0.08, margin=0.012, lookalike_margin=0.04, pipeline_version=None) -> FaceCalibration:
    pipeline = current_pipeline()
    calibration = FaceCalibration.objects.create(
        model_name=pipeline.model_name,
        detector_backend=pipeline.detector_backend,
        pipeline_version=pipeline_version or pipeline.pipeline_version,
        people=10,
        samples=30,
        accept_distance=accept,
        review_distance=review,
        margin=margin,
        lookalike_margin=lookalike_margin,
        target_rate=1e-4,
        prior_pooled=True,
        genuine_pairs=100,
        impostor_pairs=1000,
    )
    bump_calibration_generation()  # as face_calibrate does after its commit
    return calibration


def test_the_defaults_until_the_first_calibration(unpinned):
    in_force = thresholds_in_force()
    assert in_force.source == "defaults" and in_force.calibration is None
    assert thresholds() == DEFAULTS == configured_thresholds()


def test_the_latest_calibration_is_in_force(unpinned):
    store(accept=0.05)
    newest = store(accept=0.055, review=0.07, margin=0.011, lookalike_margin=0.035)
    in_force = thresholds_in_force()
    assert in_force.source == "calibration" and in_force.calibration == newest
    assert thresholds() == Thresholds(accept=0.055, review=0.07, margin=0.011, lookalike_margin=0.035)


def test_deleting_the_latest_calibration_puts_the_one_before_back(unpinned):
    store(accept=0.05)
    assert thresholds().accept == 0.05
    newest = store(accept=0.055)
    assert thresholds().accept == 0.055
    newest.delete()
    assert thresholds().accept == 0.05


def test_pinned_settings_win_over_any_calibration(unpinned):
    calibration = store(accept=0.05)
    unpinned.FACES = {**unpinned.FACES, "THRESHOLDS_PINNED": True, "ACCEPT_DISTANCE": 0.06}
    in_force = thresholds_in_force()
    assert in_force.source == "pinned" and in_force.calibration == calibration
    assert thresholds() == Thresholds(accept=0.06, review=0.09, margin=0.01, lookalike_margin=0.03)


def test_a_calibration_of_another_pipeline_is_not_used(unpinned):
    store(accept=0.05, pipeline_version="0-another-pipeline")
    assert thresholds_in_force().source == "defaults" and thresholds() == DEFAULTS


def test_thresholds_are_read_once_per_process_after_each_calibration(unpinned, django_assert_num_queries):
    store(accept=0.05)
    thresholds()
    with django_assert_num_queries(0):
        for _ in range(20):
            assert thresholds().accept == 0.05
    store(accept=0.045)
    assert thresholds().accept == 0.045


def test_without_redis_a_new_calibration_is_still_seen(unpinned, redis_refused):
    assert thresholds() == DEFAULTS
    store(accept=0.05)
    assert thresholds().accept == 0.05
    store(accept=0.045)
    assert thresholds().accept == 0.045


def test_face_calibrate_puts_its_thresholds_in_force(unpinned, shared_photos):
    enroll_shared(shared_photos)
    seed_prior_cache(shared_photos)
    run = face_calibrate()
    assert run.stored is not None and run.result.prior_pooled
    assert thresholds() == run.result.thresholds
    assert run.stored.people == len(enrolled_gallery(pipeline=current_pipeline()).people)


@pytest.mark.parametrize(
    ("variables", "pinned"),
    [
        ({}, False),
        ({"FACES_MARGIN": "0.02"}, True),
        ({"FACES_ACCEPT_DISTANCE": "0.06"}, True),
        ({"FACES_LOOKALIKE_MARGIN": "0.05"}, True),
        ({"FACES_ACCEPT_DISTANCE": "0.06", "FACES_THRESHOLDS_PINNED": "false"}, False),
    ],
)
def test_setting_any_threshold_variable_pins_them(variables, pinned):
    names = ("FACES_ACCEPT_DISTANCE", "FACES_REVIEW_DISTANCE", "FACES_MARGIN", "FACES_LOOKALIKE_MARGIN")
    env = {key: value for key, value in os.environ.items() if key not in names and key != "FACES_THRESHOLDS_PINNED"}
    code = "from attendx.settings import base; print(base.FACES['THRESHOLDS_PINNED'])"
    answer = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **variables},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout.strip() == str(pinned)


# face_identify applies the look-alike rule (the closest different-person pair of pairs.csv, 0.083).


@pytest.fixture
def lookalike_face(unpinned, shared_photos, monkeypatch):
    first, second, _ = closest_different_pair(shared_photos)
    enroll_shared(shared_photos, {first.identity, second.identity})
    gallery = enrolled_gallery(pipeline=current_pipeline())
    embedding, match = face_between(gallery, first.faces[0].embedding, second.faces[0].embedding, DEFAULTS)
    face = DetectedFace(box=(0, 0, 100, 100), quality=first.faces[0].quality, embedding=embedding)
    monkeypatch.setattr("faces.identification.detect_faces", lambda image, **kwargs: [face])
    return match


def test_identify_sends_a_face_between_lookalikes_to_review(lookalike_face):
    (found,) = face_identify(image=None)
    assert found.decision is Decision.REVIEW
    assert str(found.person.pk) == lookalike_face.person
    assert found.match.runner_up == lookalike_face.runner_up


def test_the_same_face_is_accepted_when_the_two_are_not_lookalikes(lookalike_face, unpinned):
    # A review distance below the pair's 0.083: no longer look-alikes, and the plain margin decides.
    unpinned.FACES = {**unpinned.FACES, "THRESHOLDS_PINNED": True, "REVIEW_DISTANCE": 0.08}
    (found,) = face_identify(image=None)
    assert found.decision is Decision.ACCEPT and str(found.person.pk) == lookalike_face.person

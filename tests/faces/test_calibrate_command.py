"""calibrate_faces on the shared photos, and the public prior's embedding cache."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from faces.models import FaceCalibration
from faces.pipeline import current_pipeline
from faces.prior import cached_embeddings, public_prior
from faces.thresholds import thresholds
from tests.conftest import FACES_DIR
from tests.faces.enrolled import enroll_shared, seed_prior_cache
from tests.faces.test_calibration import closest_different_pair

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calibration_settings(settings, tmp_path):
    settings.FACES = {
        **settings.FACES,
        "THRESHOLDS_PINNED": False,
        "CALIBRATION_PRIOR_DIR": FACES_DIR,
        "CALIBRATION_CACHE_DIR": tmp_path / "calibration",
    }
    return settings


@pytest.fixture
def gallery(calibration_settings, shared_photos):
    seed_prior_cache(shared_photos)
    return enroll_shared(shared_photos)


def run(*args) -> str:
    out = StringIO()
    call_command("calibrate_faces", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_dry_run_prints_the_table_and_stores_nothing(gallery):
    output = run("--dry-run")
    assert f"Calibration on {len(gallery)} people" in output
    assert "| distance | FMR | impostor pairs below | FPIR (" in output
    assert "| accept |" in output and "| review |" in output
    assert "Recommended: accept below 0.0" in output
    assert "were pooled in: the gallery is small" in output
    assert "normal fit" in output and "Look-alikes" in output
    assert "Dry run: nothing stored." in output
    assert not FaceCalibration.objects.exists()


def test_a_calibration_is_stored_and_in_force(gallery):
    output = run()
    calibration = FaceCalibration.objects.get()
    assert f"Stored calibration {calibration.pk}" in output
    assert (calibration.people, calibration.prior_pooled) == (len(gallery), True)
    assert calibration.pipeline_version == current_pipeline().pipeline_version
    assert calibration.target_rate == 1e-4
    assert thresholds().accept == calibration.accept_distance < 0.07
    assert len(calibration.histogram["genuine"]) == len(calibration.histogram["impostor"]) == 80
    assert sum(calibration.histogram["prior_impostor"]) == 293
    assert {row["marks"] for row in calibration.table} >= {"accept", "review"}
    assert calibration.notes and calibration.searches["strangers"] == calibration.samples


def test_the_target_can_be_overridden(gallery):
    run("--target", "0.0001")
    run("--target", "0.01")
    strict, loose = FaceCalibration.objects.order_by("created_at")
    assert loose.target_rate == 0.01 and loose.accept_distance > strict.accept_distance


def test_lookalikes_are_listed_and_stored(gallery, shared_photos):
    first, second, distance = closest_different_pair(shared_photos)
    output = run("--target", "0.01")  # a loose target: a review distance beyond the pair's 0.083
    calibration = FaceCalibration.objects.get()
    assert calibration.review_distance > distance
    assert f"{first.identity} and {second.identity}: {distance:.4f}" in output
    stored = {(pair["first_name"], pair["second_name"]) for pair in calibration.lookalikes}
    assert (first.identity, second.identity) in stored


@pytest.mark.parametrize("target", ["0", "1", "-0.1", "2"])
def test_a_target_outside_zero_and_one_is_refused(gallery, target):
    with pytest.raises(CommandError, match="between 0 and 1"):
        run("--target", target)


def test_a_target_that_is_not_a_number_is_refused(gallery):
    with pytest.raises(CommandError, match="invalid float"):
        run("--target", "often")


def test_no_prior_leaves_the_public_pairs_out(gallery):
    output = run("--no-prior")
    assert "Prior:" not in output and "left out as asked" in output
    assert not FaceCalibration.objects.get().prior_pooled


def test_an_empty_gallery_cannot_be_calibrated(calibration_settings):
    with pytest.raises(CommandError, match="at least two enrolled people"):
        run()


def test_without_the_public_photos_the_gallery_stands_alone(gallery, calibration_settings, tmp_path):
    calibration_settings.FACES = {**calibration_settings.FACES, "CALIBRATION_PRIOR_DIR": tmp_path / "nowhere"}
    output = run("--dry-run")
    assert "no public pairs were available" in output and "Prior:" not in output


def test_pinned_thresholds_stay_in_force_after_a_calibration(gallery, calibration_settings):
    calibration_settings.FACES = {**calibration_settings.FACES, "THRESHOLDS_PINNED": True}
    output = run()
    assert "Stored, but not in force" in output
    assert thresholds().accept == calibration_settings.FACES["ACCEPT_DISTANCE"]


def test_the_prior_is_embedded_once_and_cached_without_pickle(calibration_settings, shared_photos):
    by_bytes = {photo.data: [face.embedding for face in photo.faces] for photo in shared_photos.values()}
    calls = []

    def embed(data):
        calls.append(data)
        return by_bytes[data]

    version = current_pipeline().pipeline_version
    first = public_prior(pipeline_version=version, embed=embed)
    assert (first.genuine.total, first.impostor.total) == (116, 293)
    embedded = len(calls)
    assert embedded == len({name for pair in _pair_files() for name in pair})
    again = public_prior(pipeline_version=version, embed=embed)
    assert len(calls) == embedded  # all from the cache
    assert np.array_equal(again.impostor.counts, first.impostor.counts)
    path = calibration_settings.FACES["CALIBRATION_CACHE_DIR"] / f"prior-{version}.npz"
    with np.load(path, allow_pickle=False) as data:
        assert data["vectors"].dtype == np.float32
    assert len(cached_embeddings(version)) == embedded


def test_a_changed_photo_is_embedded_again(calibration_settings, shared_photos, tmp_path):
    copy = tmp_path / "faces"
    copy.mkdir()
    (copy / "pairs.csv").write_text("file_a,file_b,same_person,basis\na.jpg,b.jpg,no,test\na.jpg,c.jpg,yes,test\n")
    photos = [p for p in shared_photos.values() if len(p.faces) == 1][:3]
    for name, photo in zip(("a.jpg", "b.jpg", "c.jpg"), photos, strict=True):
        (copy / name).write_bytes(photo.data)
    calibration_settings.FACES = {**calibration_settings.FACES, "CALIBRATION_PRIOR_DIR": copy}
    by_bytes = {photo.data: [photo.faces[0].embedding] for photo in photos}
    calls = []

    def embed(data):
        calls.append(data)
        return by_bytes[data]

    public_prior(pipeline_version="test-pipeline", embed=embed)
    (copy / "b.jpg").write_bytes(photos[0].data)  # b is now another photo
    public_prior(pipeline_version="test-pipeline", embed=embed)
    assert len(calls) == 4


def _pair_files():
    from tests.conftest import read_pairs

    return [(pair["file_a"], pair["file_b"]) for pair in read_pairs()]

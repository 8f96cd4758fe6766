"""faces.calibration on the shared photos, and the look-alike rule on the closest pair of pairs.csv."""

import math

import numpy as np
import pytest

from faces import calibration
from faces.calibration import DistanceCounts, NormalTail, calibrate, fpir, prior_distances, scan
from faces.matching import Decision, Gallery, Thresholds, decide, normalise
from tests.conftest import read_pairs

pytestmark = pytest.mark.database_independent

DEFAULTS = Thresholds(accept=0.07, review=0.09, margin=0.01, lookalike_margin=0.03)


def single_faces(shared_photos) -> dict[str, tuple[str, np.ndarray]]:
    """{file: (identity, embedding)} of every photo of one known person with exactly one face."""
    return {
        name: (photo.identity, photo.faces[0].embedding)
        for name, photo in shared_photos.items()
        if len(photo.faces) == 1 and ";" not in photo.identity and photo.identity not in ("none", "unknown")
    }


@pytest.fixture(scope="module")
def shared_gallery(shared_photos) -> Gallery:
    return Gallery(single_faces(shared_photos).values())


@pytest.fixture(scope="module")
def public_prior(shared_photos):
    pairs = [(p["file_a"], p["file_b"], p["same_person"] == "yes") for p in read_pairs()]
    return prior_distances(pairs, {name: vector for name, (_, vector) in single_faces(shared_photos).items()})


@pytest.fixture(scope="module")
def shared_calibration(shared_gallery, public_prior):
    return calibrate(shared_gallery, target=1e-4, prior=public_prior)


def test_the_public_pairs_are_all_counted(public_prior):
    genuine, impostor = public_prior
    assert (genuine.total, impostor.total) == (116, 293)


def test_a_small_gallery_pools_the_public_pairs_and_says_so(shared_calibration, shared_gallery):
    result = shared_calibration
    assert len(shared_gallery.people) < calibration.PRIOR_BELOW_PEOPLE
    assert result.prior_pooled
    assert result.genuine.total == result.site_genuine.total + 116
    assert result.impostor.total == result.site_impostor.total + 293
    assert "pooled with the public pairs" in result.notes[0]


def test_the_accept_distance_meets_the_target_at_this_gallery_size(shared_calibration):
    result, limits = shared_calibration, shared_calibration.thresholds
    assert result.fpir(limits.accept) <= 1e-4 < result.fpir(limits.accept + calibration.STEP)
    # 1:1 tuning chose 0.07; against 60-odd samples a stranger would be accepted about 1% of the time there.
    assert limits.accept < 0.07 and result.fpir(0.07) > 1e-3
    assert limits.accept <= limits.review and result.fpir(limits.review) <= 100 * 1e-4
    assert limits.margin >= calibration.MIN_MARGIN and limits.lookalike_margin >= 2 * limits.margin


def test_the_estimate_says_what_it_rests_on(shared_calibration):
    text = " ".join(shared_calibration.notes)
    assert "normal fit" in text and "Fit check" in text
    assert f"{shared_calibration.impostor.total:,} impostor pairs" in text
    assert "independent chance" in text


def test_the_fit_is_not_lighter_than_the_shared_photos_tail(shared_calibration):
    """At the 0.1% quantile the fit must not promise fewer impostors than were counted."""
    impostor, tail = shared_calibration.impostor, shared_calibration.tail
    assert tail.distance_at(0.001) <= impostor.quantile(0.001)


def test_a_tail_that_was_seen_is_never_fitted_away(shared_gallery):
    impostor = DistanceCounts()
    impostor.add(np.r_[np.full(999, 0.2), 0.03])  # one impostor pair at 0.03, far below the fit's reach
    genuine = DistanceCounts()
    genuine.add(np.full(50, 0.03))
    result = calibrate(shared_gallery, target=1e-4, prior=(genuine, impostor), pool=True)
    assert result.fmr(0.0305) >= 1 / result.impostor.total


def test_searches_of_the_shared_photos(shared_calibration, shared_gallery):
    found = shared_calibration.searches
    assert found.strangers == len(shared_gallery)
    assert found.strangers_accepted == 0 and found.misidentified == 0
    assert found.enrolled_accepted >= 0.9 * found.enrolled


def test_the_table_is_monotone_and_marks_the_thresholds(shared_calibration):
    rows = shared_calibration.table()
    assert [row.distance for row in rows] == sorted(row.distance for row in rows)
    assert all(a.fmr <= b.fmr and a.fpir <= b.fpir for a, b in zip(rows, rows[1:], strict=False))
    assert all(a.genuine_reject >= b.genuine_reject for a, b in zip(rows, rows[1:], strict=False))
    marks = {row.marks: row.distance for row in rows if row.marks}
    assert marks == {"accept": shared_calibration.thresholds.accept, "review": shared_calibration.thresholds.review}


def test_without_the_prior_the_site_stands_alone(shared_gallery, public_prior):
    result = calibrate(shared_gallery, target=1e-4, prior=public_prior, pool=False)
    assert not result.prior_pooled and result.impostor.total == result.site_impostor.total
    assert "left out as asked" in result.notes[0]
    alone = calibrate(shared_gallery, target=1e-4, prior=None)
    assert "no public pairs were available" in alone.notes[0]


def test_a_looser_target_accepts_farther(shared_gallery, public_prior):
    strict = calibrate(shared_gallery, target=1e-5, prior=public_prior).thresholds
    loose = calibrate(shared_gallery, target=1e-2, prior=public_prior).thresholds
    assert strict.accept < loose.accept


def test_lookalikes_are_within_the_recommended_review_distance(shared_calibration, shared_gallery):
    review = shared_calibration.thresholds.review
    assert shared_calibration.lookalikes == shared_gallery.lookalikes(within=review)
    assert all(pair.distance < review for pair in shared_calibration.lookalikes)


def test_too_little_to_calibrate_is_refused(shared_gallery):
    one_person = Gallery([("a", np.ones(128)), ("a", np.r_[np.ones(127), 2.0])])
    with pytest.raises(ValueError, match="two enrolled people"):
        calibrate(one_person, target=1e-4)
    single_samples = Gallery([("a", np.r_[1.0, np.zeros(127)]), ("b", np.r_[0.0, 1.0, np.zeros(126)])])
    with pytest.raises(ValueError, match="No genuine pairs"):
        calibrate(single_samples, target=1e-4)
    for target in (0, 1, -0.5, 2):
        with pytest.raises(ValueError, match="between 0 and 1"):
            calibrate(shared_gallery, target=target)


def test_scanning_in_small_blocks_gives_the_same_answer(shared_gallery):
    whole, blocks = scan(shared_gallery, block_rows=4096), scan(shared_gallery, block_rows=7)
    assert np.array_equal(whole.genuine.counts, blocks.genuine.counts)
    assert np.array_equal(whole.impostor.counts, blocks.impostor.counts)
    assert np.allclose(whole.own, blocks.own, atol=1e-9) and np.array_equal(whole.first, blocks.first)
    n = len(shared_gallery)
    assert whole.genuine.total + whole.impostor.total == n * (n - 1) // 2


def test_distance_counts_are_exact_at_bin_edges_and_chart_everything():
    counts = DistanceCounts()
    counts.add(np.array([0.0, 0.0499, 0.05, 0.0501, 0.5, 1.9, -1e-7]))
    assert counts.below(0.05) == 3 and counts.below(0.0505) == 5 and counts.total == 7
    assert sum(counts.chart()) == 7 and len(counts.chart()) == calibration.CHART_BINS


def test_the_normal_tail_and_fpir():
    tail = NormalTail(mean=0.58, std=0.05, pairs=1000)
    for rate in (1e-2, 1e-4, 1e-7):
        assert tail.fmr(tail.distance_at(rate)) == pytest.approx(rate, rel=1e-6)
    assert fpir(1e-9, 100) == pytest.approx(1e-7, rel=1e-6)
    assert fpir(0.5, 2) == pytest.approx(0.75) and fpir(1.0, 3) == 1.0
    assert math.isclose(fpir(0.0, 10), 0.0)


# The look-alike rule, on the closest different-person pair of pairs.csv (0.083).


def closest_different_pair(shared_photos):
    def distance(pair):
        a, b = (shared_photos[pair[key]].faces[0].embedding for key in ("file_a", "file_b"))
        return float(1 - a @ b)

    pair = min((p for p in read_pairs() if p["same_person"] == "no"), key=distance)
    return shared_photos[pair["file_a"]], shared_photos[pair["file_b"]], distance(pair)


def face_between(gallery: Gallery, a: np.ndarray, b: np.ndarray, limits: Thresholds):
    """A face nearer one of the two, within accept, by more than the margin but less than the look-alike
    margin: an ordinary clear winner, were the two not look-alikes."""
    for weight in np.linspace(0.5, 1.0, 501):
        face = normalise(weight * a + (1 - weight) * b)
        match = gallery.search(face)
        lead = (match.runner_up_distance or 0) - match.distance
        if match.distance < limits.accept and limits.margin <= lead < limits.lookalike_margin:
            return face, match
    raise AssertionError("no face between the two people fits the test")


def test_the_closest_pair_of_pairs_csv_are_lookalikes(shared_photos, shared_gallery):
    first, second, distance = closest_different_pair(shared_photos)
    assert distance == pytest.approx(0.083, abs=0.002)
    pairs = {frozenset((p.first, p.second)): p.distance for p in shared_gallery.lookalikes(within=DEFAULTS.review)}
    assert pairs[frozenset((first.identity, second.identity))] == pytest.approx(distance, abs=1e-5)
    assert frozenset((first.identity, second.identity)) in shared_gallery.lookalike_index(within=DEFAULTS.review)


def test_a_face_between_lookalikes_goes_to_review_not_accept(shared_photos, shared_gallery):
    first, second, _ = closest_different_pair(shared_photos)
    face, match = face_between(shared_gallery, first.faces[0].embedding, second.faces[0].embedding, DEFAULTS)
    assert {match.person, match.runner_up} == {first.identity, second.identity}
    assert decide(match, DEFAULTS) is Decision.ACCEPT  # the plain margin alone would accept it
    lookalikes = shared_gallery.lookalike_index(within=DEFAULTS.review)
    assert decide(match, DEFAULTS, lookalikes=lookalikes) is Decision.REVIEW

"""Recognition quality on the shared labelled photos, through the configured pipeline, the gallery search
(faces.matching) and the thresholds of the FACES settings."""

import pytest

from faces.matching import Decision, Gallery, decide
from faces.thresholds import configured_thresholds
from tests.conftest import read_pairs
from tests.faces.test_calibration import single_faces

pytestmark = pytest.mark.database_independent


def pair_distance(shared_photos, pair: dict) -> float:
    first, second = (shared_photos[pair[key]].faces[0].embedding for key in ("file_a", "file_b"))
    return Gallery([("first", first), ("second", second)]).pair_distance("first", "second")


def test_verification_accuracy_at_the_configured_threshold(shared_photos):
    threshold = configured_thresholds().accept
    same, different = [], []
    for pair in read_pairs():
        (same if pair["same_person"] == "yes" else different).append(pair_distance(shared_photos, pair))
    false_accepts = sum(distance < threshold for distance in different)
    false_rejects = sum(distance >= threshold for distance in same)
    accuracy = 1 - (false_accepts + false_rejects) / (len(same) + len(different))
    print(
        f"\nVerification on {len(same) + len(different)} pairs at cosine distance {threshold}: "
        f"accuracy {accuracy:.2%}, {false_accepts} false accepts, {false_rejects} false rejects; "
        f"farthest same person {max(same):.4f}, nearest different people {min(different):.4f}"
    )
    assert false_accepts == 0
    assert accuracy >= 0.985


def test_a_face_in_the_review_band_goes_to_review_until_the_review_distance_moves_below_it(shared_photos, settings):
    limits = configured_thresholds()
    in_band = [
        pair
        for pair in read_pairs()
        if pair["same_person"] == "yes" and limits.accept <= pair_distance(shared_photos, pair) < limits.review
    ]
    assert in_band, "pairs.csv has no genuine pair between the accept and the review distance"
    pair = in_band[0]
    probe = shared_photos[pair["file_b"]]
    # Everybody else's photos, and of the probe's person only the other photo of the pair.
    enrolled = [
        row
        for name, row in single_faces(shared_photos).items()
        if row[0] != probe.identity or name == pair["file_a"]
    ]
    match = Gallery(enrolled).search(probe.faces[0].embedding)
    assert match.person == probe.identity and limits.accept <= match.distance < limits.review

    assert decide(match, configured_thresholds()) is Decision.REVIEW
    settings.FACES = {**settings.FACES, "REVIEW_DISTANCE": (limits.accept + match.distance) / 2}
    assert decide(match, configured_thresholds()) is Decision.REJECT

"""Recognition quality on the shared labelled photos, through the configured pipeline and threshold."""

import pytest

from faces.engine import cosine_distance
from faces.services import configured_thresholds
from tests.conftest import read_pairs

pytestmark = pytest.mark.database_independent


def test_verification_accuracy_at_the_configured_threshold(shared_photos):
    threshold = configured_thresholds().accept
    same, different = [], []
    for pair in read_pairs():
        a, b = shared_photos[pair["file_a"]].faces[0], shared_photos[pair["file_b"]].faces[0]
        (same if pair["same_person"] == "yes" else different).append(cosine_distance(a.embedding, b.embedding))
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


def test_the_review_band_holds_no_stranger_as_an_accept(shared_photos):
    limits = configured_thresholds()
    nearest_stranger = min(
        cosine_distance(shared_photos[p["file_a"]].faces[0].embedding, shared_photos[p["file_b"]].faces[0].embedding)
        for p in read_pairs()
        if p["same_person"] == "no"
    )
    assert limits.accept < nearest_stranger

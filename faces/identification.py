"""Who the faces in an image are: an accept/review/reject decision per face against the enrolled
gallery, and the look-alikes of an enrolled person."""

from collections.abc import Collection
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from faces.embedding_cache import detect_faces
from faces.images import DecodedImage
from faces.matching import Decision, Match, decide
from faces.pipeline import current_pipeline
from faces.selectors import enrolled_gallery
from faces.thresholds import thresholds


@dataclass(frozen=True)
class Identification:
    box: tuple[int, int, int, int]
    decision: Decision
    match: Match
    person: object | None  # the User for accept and review; None for reject: never the nearest name

    def to_json(self) -> dict:
        return {
            "box": list(self.box),
            "identity": self.person.get_username() if self.person is not None else None,
            "distance": None if self.match.distance is None else round(self.match.distance, 4),
            "decision": str(self.decision),
        }


def face_identify(
    *,
    image: DecodedImage,
    among: Collection[str] | None = None,
    remember: bool = False,
    small_faces: bool = False,
) -> list[Identification]:
    """A decision per face; ``among`` (person keys) limits matching to a roster. When the nearest and
    the runner-up are look-alikes, accepting needs the thresholds' larger ``lookalike_margin``.

    Kiosk and camera frames are never seen twice, so they are not cached unless ``remember`` says so.
    ``small_faces`` for camera frames (see detect_faces).
    """
    faces = detect_faces(image, remember=remember, small_faces=small_faces)
    gallery = enrolled_gallery(pipeline=current_pipeline())
    limits = thresholds()
    lookalikes = gallery.lookalike_index(within=limits.review)
    results = []
    for face in faces:
        match = gallery.search(face.embedding, among=among)
        results.append((face, match, decide(match, limits, lookalikes=lookalikes)))
    keys = {match.person for _face, match, decision in results if decision is not Decision.REJECT}
    people = get_user_model().objects.in_bulk(list(keys)) if keys else {}
    by_key = {str(pk): user for pk, user in people.items()}
    return [
        Identification(
            box=face.box,
            decision=decision,
            match=match,
            person=None if decision is Decision.REJECT else by_key.get(match.person),
        )
        for face, match, decision in results
    ]


@dataclass(frozen=True)
class LookAlikePerson:
    person: object  # the User
    distance: float  # between their nearest samples


def face_lookalikes(*, person) -> list[LookAlikePerson]:
    """Enrolled people whose nearest sample is within the review distance of one of ``person``'s."""
    gallery = enrolled_gallery(pipeline=current_pipeline())
    found = gallery.lookalikes_of(str(person.pk), within=thresholds().review)
    people = get_user_model().objects.in_bulk([pair.second for pair in found]) if found else {}
    by_key = {str(pk): user for pk, user in people.items()}
    return [LookAlikePerson(by_key[pair.second], pair.distance) for pair in found if pair.second in by_key]

"""1:N search over the enrolled gallery and the accept/review/reject decision: numpy only.

The gallery is one float32 matrix of unit rows sorted by person, so a search is one matrix-vector
product and a per-person minimum. A face is accepted only when its nearest person is both close and
clearly closer than anybody else; an unknown face never gets the nearest name.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Decision(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class Thresholds:
    accept: float
    review: float
    margin: float

    def __post_init__(self):
        if not 0 < self.accept <= self.review < 2:
            raise ValueError("Need 0 < accept <= review < 2 (cosine distances).")
        if self.margin < 0:
            raise ValueError("The margin cannot be negative.")


@dataclass(frozen=True)
class Match:
    """The nearest person and the runner-up (nearest *other* person), by cosine distance."""

    person: str | None
    distance: float | None
    runner_up: str | None = None
    runner_up_distance: float | None = None


NO_MATCH = Match(person=None, distance=None)


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


class Gallery:
    """Enrolled embeddings of many people; ``person`` keys are strings (primary keys as text)."""

    def __init__(self, rows: Iterable[tuple[str, np.ndarray]], *, dimensions: int = 128):
        rows = sorted(rows, key=lambda row: row[0])
        self.dimensions = dimensions
        if rows:
            self.matrix = normalise(np.stack([np.asarray(vector, dtype=np.float32) for _, vector in rows]))
        else:
            self.matrix = np.empty((0, dimensions), dtype=np.float32)
        if self.matrix.shape[1] != dimensions:
            raise ValueError(f"Embeddings have {self.matrix.shape[1]} dimensions, expected {dimensions}.")
        keys = np.asarray([key for key, _ in rows], dtype=object)
        # Row index where each person's block starts (rows are sorted by person).
        self._starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.empty(0, np.intp)
        self._ends = np.r_[self._starts[1:], len(keys)].astype(np.intp)
        self.people = [str(key) for key in keys[self._starts]]
        self._index = {person: i for i, person in enumerate(self.people)}

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def person_distances(self, query: np.ndarray, chosen: Sequence[int] | None = None) -> np.ndarray:
        """The smallest cosine distance from ``query`` to each person's samples, in ``people`` order,
        or only for the people at indexes ``chosen`` (then only their rows are scored)."""
        if not len(self):
            return np.empty(0, dtype=np.float32)
        if chosen is None:
            return 1.0 - np.maximum.reduceat(self.matrix @ normalise(query), self._starts)
        if not len(chosen):
            return np.empty(0, dtype=np.float32)
        starts, ends = self._starts[chosen], self._ends[chosen]
        rows = np.concatenate([np.arange(start, end) for start, end in zip(starts, ends, strict=True)])
        blocks = np.r_[0, np.cumsum(ends - starts)[:-1]]
        return 1.0 - np.maximum.reduceat(self.matrix[rows] @ normalise(query), blocks)

    def search(self, query: np.ndarray, *, among: Collection[str] | None = None, exclude: str | None = None) -> Match:
        """Nearest person to ``query``; ``among`` limits the search (a roster), ``exclude`` skips one person."""
        if among is None:
            distances, people = self.person_distances(query), self.people
            if exclude in self._index:
                distances[self._index[exclude]] = np.inf
        else:
            chosen = [self._index[person] for person in among if person in self._index and person != exclude]
            distances, people = self.person_distances(query, chosen), [self.people[i] for i in chosen]
        if not len(distances):
            return NO_MATCH
        if len(distances) == 1:
            best = 0 if np.isfinite(distances[0]) else None
            return NO_MATCH if best is None else Match(person=people[0], distance=float(distances[0]))
        two = np.argpartition(distances, 1)[:2]
        best, second = (int(i) for i in two[np.argsort(distances[two])])
        if not np.isfinite(distances[best]):
            return NO_MATCH
        if not np.isfinite(distances[second]):
            return Match(person=people[best], distance=float(distances[best]))
        return Match(
            person=people[best],
            distance=float(distances[best]),
            runner_up=people[second],
            runner_up_distance=float(distances[second]),
        )


def decide(match: Match, thresholds: Thresholds) -> Decision:
    if match.person is None or match.distance >= thresholds.review:
        return Decision.REJECT
    clear_winner = match.runner_up_distance is None or match.runner_up_distance - match.distance >= thresholds.margin
    if match.distance < thresholds.accept and clear_winner:
        return Decision.ACCEPT
    return Decision.REVIEW

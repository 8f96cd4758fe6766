"""1:N search over the enrolled gallery and the accept/review/reject decision: numpy only.

The gallery is one float32 matrix of unit rows sorted by person, so a search is one matrix-vector
product and a per-person minimum. A face is accepted only when its nearest person is both close and
clearly closer than anybody else; an unknown face never gets the nearest name. Two enrolled people
whose nearest samples are within the review distance of each other are look-alikes: between them a
face needs the larger ``lookalike_margin``.
"""

import threading
from collections.abc import Collection, Container, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Decision(StrEnum):
    ACCEPT = "accept"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class Thresholds:
    """Cosine distances: accept below ``accept``, review below ``review``, reject from there.

    ``margin``: how much nearer than the runner-up the nearest person must be to be accepted;
    ``lookalike_margin`` (at least ``margin``; ``margin`` when not given): the same when the two are
    look-alikes.
    """

    accept: float
    review: float
    margin: float
    lookalike_margin: float | None = None

    def __post_init__(self):
        if not 0 < self.accept <= self.review < 2:
            raise ValueError("Need 0 < accept <= review < 2 (cosine distances).")
        if self.margin < 0:
            raise ValueError("The margin cannot be negative.")
        if self.lookalike_margin is None:
            object.__setattr__(self, "lookalike_margin", self.margin)
        if self.lookalike_margin < self.margin:
            raise ValueError("The look-alike margin cannot be smaller than the margin.")


@dataclass(frozen=True)
class Match:
    """The nearest person and the runner-up (nearest *other* person), by cosine distance."""

    person: str | None
    distance: float | None
    runner_up: str | None = None
    runner_up_distance: float | None = None


NO_MATCH = Match(person=None, distance=None)


@dataclass(frozen=True)
class LookAlike:
    """Two enrolled people (``first`` < ``second``) and the cosine distance between their nearest samples."""

    first: str
    second: str
    distance: float


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
        # Person index of every row.
        self.owners = np.repeat(np.arange(len(self.people)), self._ends - self._starts)
        self._lookalikes: dict[float, list[LookAlike]] = {}
        self._lookalikes_lock = threading.Lock()

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def rows_of(self, person: str) -> np.ndarray:
        """The unit rows of one person's samples (none for someone not in the gallery)."""
        i = self._index.get(person)
        return self.matrix[0:0] if i is None else self.matrix[self._starts[i] : self._ends[i]]

    def pair_distance(self, first: str, second: str) -> float:
        """Cosine distance between the nearest samples of two people; inf when either is not enrolled."""
        a, b = self.rows_of(first), self.rows_of(second)
        if not len(a) or not len(b):
            return float("inf")
        return float(1.0 - (a @ b.T).max())

    def lookalikes(self, *, within: float, block_rows: int = 1024) -> list[LookAlike]:
        """Every pair of people whose nearest samples are closer than ``within``, nearest pairs first.

        Computed once per gallery and distance (a gallery is rebuilt whenever the samples change), in
        blocks of ``block_rows`` rows, so memory stays at ``block_rows`` x samples.
        """
        with self._lookalikes_lock:
            if within in self._lookalikes:
                return self._lookalikes[within]
        found = []
        for first, last in self._person_blocks(block_rows):
            similarity = self.matrix[self._starts[first] : self._ends[last - 1]] @ self.matrix.T
            # Per person of the block (rows) and per person of the gallery (columns): the nearest samples.
            local_starts = self._starts[first:last] - self._starts[first]
            nearest = 1.0 - np.maximum.reduceat(
                np.maximum.reduceat(similarity, local_starts, axis=0), self._starts, axis=1
            )
            for i, j in zip(*np.nonzero(nearest < within), strict=True):
                a, b = first + int(i), int(j)
                if a < b:
                    found.append(LookAlike(self.people[a], self.people[b], float(nearest[i, j])))
        found.sort(key=lambda pair: (pair.distance, pair.first, pair.second))
        with self._lookalikes_lock:
            self._lookalikes[within] = found
        return found

    def _person_blocks(self, block_rows: int) -> Iterable[tuple[int, int]]:
        """Runs of whole people (first, last + 1) of about ``block_rows`` rows (one person at least)."""
        first = 0
        while first < len(self.people):
            last = max(first + 1, int(np.searchsorted(self._ends, self._starts[first] + block_rows, side="right")))
            yield first, last
            first = last

    def lookalikes_of(self, person: str, *, within: float) -> list[LookAlike]:
        """The look-alikes of one person (``first`` is always ``person`` here), nearest first."""
        rows = self.rows_of(person)
        if not len(rows) or len(self.people) < 2:
            return []
        nearest = 1.0 - np.maximum.reduceat((rows @ self.matrix.T).max(axis=0), self._starts)
        found = [
            LookAlike(person, other, float(nearest[j]))
            for j, other in enumerate(self.people)
            if other != person and nearest[j] < within
        ]
        return sorted(found, key=lambda pair: (pair.distance, pair.second))

    def lookalike_index(self, *, within: float) -> "LookAlikeIndex":
        """Answers ``frozenset({a, b}) in index`` pair by pair, for ``decide``: no full pass over the gallery."""
        return LookAlikeIndex(self, within)

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


class LookAlikeIndex:
    """Whether two people of a gallery are look-alikes at ``within``, each pair computed once."""

    def __init__(self, gallery: Gallery, within: float):
        self.gallery, self.within = gallery, within
        self._known: dict[frozenset, bool] = {}

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, frozenset) or len(pair) != 2:
            return False
        if pair not in self._known:
            first, second = sorted(pair)
            self._known[pair] = self.gallery.pair_distance(first, second) < self.within
        return self._known[pair]


def decide(match: Match, thresholds: Thresholds, *, lookalikes: Container[frozenset] = ()) -> Decision:
    """Accept only a face near its nearest person and clearly nearer than the runner-up; review a face
    within the review distance; reject the rest. When the nearest and the runner-up are look-alikes
    (``frozenset({person, runner_up}) in lookalikes``), "clearly" means ``thresholds.lookalike_margin``.
    """
    if match.person is None or match.distance >= thresholds.review:
        return Decision.REJECT
    margin = thresholds.margin
    if match.runner_up is not None and frozenset((match.person, match.runner_up)) in lookalikes:
        margin = thresholds.lookalike_margin
    clear_winner = match.runner_up_distance is None or match.runner_up_distance - match.distance >= margin
    if match.distance < thresholds.accept and clear_winner:
        return Decision.ACCEPT
    return Decision.REVIEW

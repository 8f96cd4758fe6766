"""Thresholds from the site's own gallery: genuine and impostor distances, FMR, FPIR at this size (numpy).

Distances are 1:1 pairs of samples: genuine = every pair of samples of one person; impostor = every
pair of samples of two different people (all cross pairs, not each person's nearest sample, so that
the public pairs pool with them as they are). A check-in compares a stranger with every enrolled
sample, so the false-positive identification rate at distance d is taken as
FPIR(d) = 1 - (1 - FMR(d))^S over the S samples: as if they were independent chances, which is
pessimistic, since one person's samples are alike. FMR far below one impostor pair in the sample
cannot be counted; it rests on a normal fit to the impostor pairs' Euclidean distances (sqrt(2 d)
between unit vectors), and the larger of that fit and the count is used, so a heavy tail that was seen
is never fitted away. The recommendation is then:

- accept: the largest distance (0.001 steps) whose FPIR stays within the target;
- review: the largest distance whose FPIR stays within ``REVIEW_RATE_FACTOR`` x the target;
- margin: at least ``MIN_MARGIN``, and more than any lead a wrong person had in the 1:N searches;
- lookalike_margin: twice the margin, or the median genuine distance when larger.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist

import numpy as np

from faces.matching import Decision, Gallery, LookAlike, Match, Thresholds, decide

BIN_WIDTH = 0.0005  # counts below a distance are exact at multiples of this
BINS = 4000  # cosine distances 0..2
MIN_MARGIN = 0.01  # detectors move a face's distances by ~0.001 (docs/benchmarks.md): ten times that
REVIEW_RATE_FACTOR = 100
MAX_REVIEW_RATE = 0.5
STEP = 0.001
GRID = np.round(np.arange(STEP, 0.3 + STEP / 2, STEP), 3)
TABLE_DISTANCES = np.round(np.arange(0.03, 0.1201, 0.005), 3)
# Below these the site's own pairs are too few to stand alone: the public pairs are pooled in.
PRIOR_BELOW_PEOPLE = 50
PRIOR_BELOW_GENUINE_PAIRS = 100
CHART_BIN = 0.005
CHART_BINS = 80  # 0..0.4, and the last bin holds everything beyond


@dataclass
class DistanceCounts:
    """A histogram of cosine distances (bins of BIN_WIDTH) and the moments of their Euclidean distances."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    euclid_sum: float = 0.0
    euclid_squares: float = 0.0

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def add(self, distances: np.ndarray) -> None:
        distances = np.clip(np.asarray(distances, dtype=np.float64).ravel(), 0.0, 2.0)
        if not len(distances):
            return
        bins = np.minimum((distances / BIN_WIDTH).astype(np.int64), BINS - 1)
        self.counts += np.bincount(bins, minlength=BINS)
        euclid = np.sqrt(2.0 * distances)
        self.euclid_sum += float(euclid.sum())
        self.euclid_squares += float((euclid**2).sum())

    def __add__(self, other: "DistanceCounts") -> "DistanceCounts":
        return DistanceCounts(
            self.counts + other.counts, self.euclid_sum + other.euclid_sum, self.euclid_squares + other.euclid_squares
        )

    def below(self, distance: float) -> int:
        """How many distances are below ``distance`` (exact at multiples of BIN_WIDTH)."""
        return int(self.counts[: max(0, min(BINS, round(distance / BIN_WIDTH)))].sum())

    def quantile(self, q: float) -> float:
        """The distance below which a fraction ``q`` lies (to BIN_WIDTH); nan when empty."""
        if not self.total:
            return math.nan
        cumulative = np.cumsum(self.counts)
        return float(np.searchsorted(cumulative, q * self.total, side="left") + 1) * BIN_WIDTH

    def smallest(self) -> float:
        """The lower edge of the first non-empty bin; nan when empty."""
        nonzero = np.flatnonzero(self.counts)
        return float(nonzero[0] * BIN_WIDTH) if len(nonzero) else math.nan

    def chart(self) -> list[int]:
        """Counts in CHART_BINS bins of CHART_BIN (the last one open-ended), for the staff page."""
        per = round(CHART_BIN / BIN_WIDTH)
        coarse = self.counts[: per * CHART_BINS].reshape(CHART_BINS, per).sum(axis=1)
        coarse[-1] += self.counts[per * CHART_BINS :].sum()
        return [int(value) for value in coarse]


@dataclass(frozen=True)
class NormalTail:
    """A normal fit to impostor pairs' Euclidean distances: FMR where no impostor pair was seen."""

    mean: float
    std: float
    pairs: int

    @classmethod
    def fit(cls, impostor: DistanceCounts) -> "NormalTail":
        n = impostor.total
        if n < 2:
            raise ValueError("At least two impostor pairs are needed to fit a tail.")
        mean = impostor.euclid_sum / n
        variance = max(impostor.euclid_squares / n - mean**2, 1e-12) * n / (n - 1)
        return cls(mean=mean, std=math.sqrt(variance), pairs=n)

    def fmr(self, distance: float) -> float:
        return NormalDist(self.mean, self.std).cdf(math.sqrt(2.0 * max(distance, 0.0)))

    def distance_at(self, fmr: float) -> float:
        euclid = max(NormalDist(self.mean, self.std).inv_cdf(fmr), 0.0)
        return euclid**2 / 2.0


@dataclass
class Scan:
    """One pass over a gallery: the pair histograms, and per sample (a probe) the nearest sample of its
    own person (inf when it is that person's only one) and the two nearest other people."""

    genuine: DistanceCounts
    impostor: DistanceCounts
    own: np.ndarray
    first: np.ndarray  # person index, -1 when none
    first_distance: np.ndarray
    second: np.ndarray
    second_distance: np.ndarray


def scan(gallery: Gallery, *, block_rows: int = 512) -> Scan:
    """Every sample against every other, in blocks of ``block_rows`` probes (memory: block x samples)."""
    samples, owners = len(gallery), gallery.owners
    genuine, impostor = DistanceCounts(), DistanceCounts()
    own = np.full(samples, np.inf)
    first, second = np.full(samples, -1), np.full(samples, -1)
    first_distance, second_distance = np.full(samples, np.inf), np.full(samples, np.inf)
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if samples else np.empty(0, np.intp)
    columns = np.arange(samples)
    matrix = gallery.matrix.astype(np.float64)  # the same answer whatever the block size
    for start in range(0, samples, block_rows):
        rows = np.arange(start, min(samples, start + block_rows))
        distances = 1.0 - matrix[rows] @ matrix.T
        later = columns[None, :] > rows[:, None]  # each pair once
        same = owners[None, :] == owners[rows][:, None]
        genuine.add(distances[later & same])
        impostor.add(distances[later & ~same])
        distances[np.arange(len(rows)), rows] = np.inf  # a sample is not its own neighbour
        per_person = np.minimum.reduceat(distances, starts, axis=1)
        mine = (np.arange(len(rows)), owners[rows])
        own[rows] = per_person[mine]
        per_person[mine] = np.inf
        order = np.argsort(per_person, axis=1)[:, :2]
        for k, (target, target_distance) in enumerate(((first, first_distance), (second, second_distance))):
            if per_person.shape[1] > k:
                chosen = order[:, k]
                found = per_person[np.arange(len(rows)), chosen]
                target[rows] = np.where(np.isfinite(found), chosen, -1)
                target_distance[rows] = found
    return Scan(genuine, impostor, own, first, first_distance, second, second_distance)


def prior_distances(pairs: Iterable[tuple[str, str, bool]], embeddings: Mapping[str, np.ndarray]) -> tuple:
    """(genuine, impostor) DistanceCounts of labelled public pairs (file_a, file_b, same person);
    pairs with a photo that has no embedding are skipped."""
    genuine, impostor = DistanceCounts(), DistanceCounts()
    for a, b, same in pairs:
        if a in embeddings and b in embeddings:
            u, v = (np.asarray(embeddings[name], dtype=np.float64) for name in (a, b))
            distance = 1.0 - float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
            (genuine if same else impostor).add(np.array([distance]))
    return genuine, impostor


@dataclass(frozen=True)
class Searches:
    """1:N searches of the gallery's own samples at the recommended thresholds.

    Strangers: each sample searched with its person left out. Enrolled: each sample of a person with
    other samples searched against the rest of the gallery (the sample itself left out).
    """

    strangers: int
    strangers_accepted: int
    strangers_reviewed: int
    enrolled: int
    enrolled_accepted: int  # as the right person
    misidentified: int  # accepted as somebody else


@dataclass(frozen=True)
class TableRow:
    distance: float
    fmr: float  # used: the larger of the fit and the count
    impostor_below: int
    fpir: float
    genuine_reject: float
    marks: str = ""  # "accept", "review"


@dataclass(frozen=True)
class Calibration:
    people: int
    samples: int
    target: float
    thresholds: Thresholds
    prior_pooled: bool
    site_genuine: DistanceCounts
    site_impostor: DistanceCounts
    prior_genuine: DistanceCounts
    prior_impostor: DistanceCounts
    tail: NormalTail
    searches: Searches
    lookalikes: list[LookAlike]
    notes: list[str]

    @property
    def genuine(self) -> DistanceCounts:
        return self.site_genuine + self.prior_genuine if self.prior_pooled else self.site_genuine

    @property
    def impostor(self) -> DistanceCounts:
        return self.site_impostor + self.prior_impostor if self.prior_pooled else self.site_impostor

    def fmr(self, distance: float) -> float:
        counted = self.impostor.below(distance) / self.impostor.total
        return max(self.tail.fmr(distance), counted)

    def fpir(self, distance: float) -> float:
        return fpir(self.fmr(distance), self.samples)

    def genuine_reject(self, distance: float) -> float:
        genuine = self.genuine
        return 1.0 - genuine.below(distance) / genuine.total if genuine.total else math.nan

    def table(self, distances: Sequence[float] = TABLE_DISTANCES) -> list[TableRow]:
        marks = {round(self.thresholds.accept, 3): "accept", round(self.thresholds.review, 3): "review"}
        chosen = sorted({round(float(d), 3) for d in distances} | set(marks))
        if marks.keys() == {round(self.thresholds.accept, 3)}:
            marks = {round(self.thresholds.accept, 3): "accept = review"}
        return [
            TableRow(
                distance=d,
                fmr=self.fmr(d),
                impostor_below=self.impostor.below(d),
                fpir=self.fpir(d),
                genuine_reject=self.genuine_reject(d),
                marks=marks.get(d, ""),
            )
            for d in chosen
        ]


def fpir(fmr: float, comparisons: int) -> float:
    """1 - (1 - fmr)^comparisons, without losing small values."""
    if fmr >= 1.0:
        return 1.0
    return -math.expm1(comparisons * math.log1p(-fmr))


def _round_up(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 3)


def _largest_within(rate: float, estimate) -> float:
    """The largest grid distance whose estimated FPIR is within ``rate`` (the first when none is)."""
    fine = [d for d in GRID if estimate(float(d)) <= rate]
    return float(fine[-1]) if fine else float(GRID[0])


def _wrong_leads(found: Scan, accept: float) -> list[float]:
    """By how much a wrong person led the right one (or the next), where it came within ``accept``."""
    leads = []
    for i in np.flatnonzero(np.isfinite(found.own) & (found.first_distance < found.own)):
        if found.first_distance[i] < accept:
            leads.append(float(min(found.own[i], found.second_distance[i]) - found.first_distance[i]))
    return leads


def _search(found: Scan, gallery: Gallery, thresholds: Thresholds) -> Searches:
    people, lookalikes = gallery.people, gallery.lookalike_index(within=thresholds.review)

    def match(candidates: list[tuple[float, int]]) -> Match:
        candidates = sorted((d, p) for d, p in candidates if p >= 0 and np.isfinite(d))
        if not candidates:
            return Match(person=None, distance=None)
        (d1, p1), rest = candidates[0], candidates[1:]
        if not rest:
            return Match(person=people[p1], distance=d1)
        return Match(person=people[p1], distance=d1, runner_up=people[rest[0][1]], runner_up_distance=rest[0][0])

    counts = dict(strangers_accepted=0, strangers_reviewed=0, enrolled=0, enrolled_accepted=0, misidentified=0)
    for i, owner in enumerate(gallery.owners):
        others = [
            (float(found.first_distance[i]), int(found.first[i])),
            (float(found.second_distance[i]), int(found.second[i])),
        ]
        decision = decide(match(others), thresholds, lookalikes=lookalikes)
        counts["strangers_accepted"] += decision is Decision.ACCEPT
        counts["strangers_reviewed"] += decision is Decision.REVIEW
        if np.isfinite(found.own[i]):
            enrolled = match([(float(found.own[i]), int(owner)), *others])
            decision = decide(enrolled, thresholds, lookalikes=lookalikes)
            counts["enrolled"] += 1
            if decision is Decision.ACCEPT:
                right = enrolled.person == people[owner]
                counts["enrolled_accepted" if right else "misidentified"] += 1
    return Searches(strangers=len(gallery), **counts)


def genuine_pairs(gallery: Gallery) -> int:
    per_person = np.bincount(gallery.owners, minlength=len(gallery.people)) if len(gallery) else np.zeros(0, int)
    return int((per_person * (per_person - 1) // 2).sum())


def is_small(gallery: Gallery) -> bool:
    """Too small to stand alone: the public pairs are pooled in by default."""
    return len(gallery.people) < PRIOR_BELOW_PEOPLE or genuine_pairs(gallery) < PRIOR_BELOW_GENUINE_PAIRS


def calibrate(
    gallery: Gallery,
    *,
    target: float,
    prior: tuple[DistanceCounts, DistanceCounts] | None = None,
    pool: bool | None = None,
) -> Calibration:
    """Recommend thresholds for ``gallery`` so that about ``target`` of stranger check-ins are accepted.

    ``prior``: (genuine, impostor) counts of public pairs; pooled when ``pool`` says so, or by default
    when the gallery is small (fewer than PRIOR_BELOW_PEOPLE people or PRIOR_BELOW_GENUINE_PAIRS
    genuine pairs). Raises ValueError when there is not enough to calibrate on.
    """
    if not 0 < target < 1:
        raise ValueError("The target rate must be between 0 and 1.")
    if len(gallery.people) < 2:
        raise ValueError("Calibration needs at least two enrolled people.")
    found = scan(gallery)
    small = is_small(gallery)
    pooled = prior is not None and (small if pool is None else pool)
    prior_genuine, prior_impostor = prior if prior is not None else (DistanceCounts(), DistanceCounts())
    genuine = found.genuine + prior_genuine if pooled else found.genuine
    impostor = found.impostor + prior_impostor if pooled else found.impostor
    if not genuine.total:
        raise ValueError("No genuine pairs: enroll two or more photos of some people, or pool the public pairs.")
    tail = NormalTail.fit(impostor)
    draft = Calibration(
        people=len(gallery.people),
        samples=len(gallery),
        target=target,
        thresholds=Thresholds(accept=0.07, review=0.09, margin=MIN_MARGIN),
        prior_pooled=pooled,
        site_genuine=found.genuine,
        site_impostor=found.impostor,
        prior_genuine=prior_genuine,
        prior_impostor=prior_impostor,
        tail=tail,
        searches=Searches(0, 0, 0, 0, 0, 0),
        lookalikes=[],
        notes=[],
    )
    accept = _largest_within(target, draft.fpir)
    review = max(accept, _largest_within(min(MAX_REVIEW_RATE, REVIEW_RATE_FACTOR * target), draft.fpir))
    leads = _wrong_leads(found, accept)
    margin = max(MIN_MARGIN, _round_up(max(leads) + STEP, STEP) if leads else 0.0)
    median_genuine = genuine.quantile(0.5)
    lookalike_margin = _round_up(max(2 * margin, median_genuine), 0.005)
    thresholds = Thresholds(accept=accept, review=review, margin=margin, lookalike_margin=lookalike_margin)
    searches = _search(found, gallery, thresholds)
    notes = _notes(draft, thresholds, small=small, pool=pool, leads=leads, median_genuine=median_genuine)
    return replace(
        draft, thresholds=thresholds, searches=searches, lookalikes=gallery.lookalikes(within=review), notes=notes
    )


def _notes(draft: Calibration, thresholds: Thresholds, *, small: bool, pool, leads, median_genuine) -> list[str]:
    """What the estimate rests on, in sentences for the command's output and the staff page."""
    genuine, impostor, tail = draft.genuine, draft.impostor, draft.tail
    notes = []
    if draft.prior_pooled:
        notes.append(
            f"The gallery is small ({draft.people} people, {draft.site_genuine.total} genuine pairs): "
            f"pooled with the public pairs ({draft.prior_genuine.total} genuine, "
            f"{draft.prior_impostor.total} impostor) as a prior."
        )
    elif small and pool is False:
        notes.append("The gallery is small, but the public pairs were left out as asked.")
    elif small:
        notes.append(
            "The gallery is small and no public pairs were available as a prior: the site's pairs stand alone."
        )
    smallest = impostor.smallest()
    needed = 1.0 - (1.0 - draft.target) ** (1.0 / draft.samples)
    notes.append(
        f"{impostor.total:,} impostor pairs can count an FMR down to about {1 / impostor.total:.1e}; the target "
        f"needs {needed:.1e} per comparison ({draft.target:g} over {draft.samples:,} samples). Below the nearest "
        f"impostor pair seen ({smallest:.4f}) the FMR rests on a normal fit to the impostor pairs' Euclidean "
        f"distances (mean {tail.mean:.4f}, sd {tail.std:.4f})."
    )
    for q in (0.01, 0.001):
        if impostor.total * q >= 1:
            notes.append(
                f"Fit check: {q:.1%} of impostor pairs lie below {impostor.quantile(q):.4f}; "
                f"the fit puts {q:.1%} below {tail.distance_at(q):.4f}."
            )
    notes.append(
        f"FPIR assumes a stranger meets each of the {draft.samples:,} samples as an independent chance "
        "(pessimistic: one person's samples are alike)."
    )
    notes.append(
        f"Genuine pairs: {genuine.total:,}; median {median_genuine:.4f}, 95% below {genuine.quantile(0.95):.4f}. "
        f"Look-alike margin {thresholds.lookalike_margin:g}: twice the margin, or the median genuine distance."
    )
    if leads:
        notes.append(f"In the 1:N searches a wrong person led by up to {max(leads):.4f}: the margin is above that.")
    return notes

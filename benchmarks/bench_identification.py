"""False-positive and false-negative identification rates for galleries of 10, 100 and 1,000 people.

Real people: the single-face photos of the shared set (shared/data/faces/manifest.csv), embedded by
the shipped engine. The people with two or more photos are enrolled with all photos but one, which
is then searched (a genuine check-in); the real people left out of a gallery are strangers, all their
photos searched. Galleries beyond the real people are filled with synthetic identities, and more
strangers are synthetic too: an identity is a draw from a normal distribution with the mean and
(shrunk) covariance of the real people's centroids, its photos draws around it with the covariance of
the real photos' offsets from their person's centroid (times a random size per photo), all normalised
to unit length. Fitted so that synthetic impostor pairs match the real ones' 1% quantile (the near
tail, which makes false accepts) and synthetic genuine pairs the real median and 95% quantile. What
that means: synthetic faces are as close to each other as real faces in the near tail, but closer on
average (more reviews than real faces would give, not fewer false accepts), and they are not faces:
rates at 1,000 people say how the thresholds behave as the gallery grows, not what a real school of
1,000 would see. The first table of the output compares them.

Each gallery is searched at the built-in defaults (what runs before any calibration) and at what
calibrate_faces recommends for that very gallery (target 1e-4, the public pairs pooled in when small).
A stranger accepted as anyone is a false positive; an enrolled person not accepted as themselves
(sent to review, rejected, or accepted as someone else) is a false negative.
"""

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from faces.calibration import calibrate, prior_distances  # noqa: E402
from faces.engine import Engine, EngineConfig  # noqa: E402
from faces.matching import Decision, Gallery, Thresholds, decide, normalise  # noqa: E402

DEFAULTS = Thresholds(accept=0.07, review=0.09, margin=0.01, lookalike_margin=0.03)
SAMPLES_PER_SYNTHETIC = 3


def embed_shared(data: Path, deepface_home: str) -> tuple[list[str], list[str], np.ndarray]:
    """(file, identity, embedding) of every photo of one known person in which the engine finds one face."""
    engine = Engine(EngineConfig(deepface_home=deepface_home))
    files, identities, vectors = [], [], []
    with open(data / "manifest.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["faces_in_image"] != "1" or row["identity"] in ("none", "unknown") or ";" in row["identity"]:
                continue
            with Image.open(io.BytesIO((data / row["file"]).read_bytes())) as photo:
                rgb = np.asarray(ImageOps.exif_transpose(photo).convert("RGB"))
            faces = engine.detect_and_embed(rgb)
            if len(faces) == 1:
                files.append(row["file"])
                identities.append(row["identity"])
                vectors.append(faces[0].embedding)
    return files, identities, np.stack(vectors).astype(np.float64)


def pair_distances(vectors: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distances = 1.0 - vectors @ vectors.T
    upper = np.triu_indices(len(owners), 1)
    same = (owners[:, None] == owners[None, :])[upper]
    return distances[upper][same], distances[upper][~same]


def _shrunk_cholesky(rows: np.ndarray, shrink: float = 0.5) -> np.ndarray:
    covariance = np.cov(rows, rowvar=False)
    covariance = (1 - shrink) * covariance + shrink * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return np.linalg.cholesky(covariance)


class SyntheticFaces:
    """Identities and photos drawn to match the real set's spread (see the module docstring).

    An identity's offset from the mean is a normal draw, scaled to match the 1% quantile of real
    impostor pairs. A photo's offset from its identity is a normal draw times exp(spread x a standard
    normal), its scale and spread fitted on the median and the 95% quantile of real genuine pairs. The
    fitting draws use fixed random numbers, so that each bisection sees a smooth, monotone answer.
    """

    def __init__(self, identities: list[str], vectors: np.ndarray, seed: int):
        owners = np.array(identities)
        people = sorted(set(identities))
        centroids = np.stack([normalise(vectors[owners == p].mean(axis=0)) for p in people]).astype(np.float64)
        offsets = np.concatenate(
            [vectors[owners == p] - centroids[i] for i, p in enumerate(people) if (owners == p).sum() > 1]
        )
        self.mean, self.between, self.within = (
            centroids.mean(axis=0),
            _shrunk_cholesky(centroids),
            _shrunk_cholesky(offsets),
        )
        self.rng = np.random.default_rng(seed)
        self.real_genuine, self.real_impostor = pair_distances(vectors, owners)
        self.real_vectors = vectors
        self.between_scale = self.within_scale = 1.0
        self.between_spread = self.within_spread = 0.0
        self._fit()

    def identities(self, count: int, rng=None) -> np.ndarray:
        rng = rng or self.rng
        z, size = (
            rng.standard_normal((count, len(self.mean))),
            np.exp(self.between_spread * rng.standard_normal((count, 1))),
        )
        return normalise(self.mean + self.between_scale * size * (z @ self.between.T)).astype(np.float64)

    def photos(self, centroids: np.ndarray, per: int, rng=None) -> np.ndarray:
        rng = rng or self.rng
        repeated = np.repeat(centroids, per, axis=0)
        z, size = (
            rng.standard_normal(repeated.shape),
            np.exp(self.within_spread * rng.standard_normal((len(repeated), 1))),
        )
        return normalise(repeated + self.within_scale * size * (z @ self.within.T)).astype(np.float64)

    def _measure(self, count: int = 300, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        photos = self.photos(self.identities(count, rng), SAMPLES_PER_SYNTHETIC, rng)
        return pair_distances(photos, np.repeat(np.arange(count), SAMPLES_PER_SYNTHETIC))

    def _bisect(self, attribute: str, target: float, statistic, low: float, high: float, steps: int = 14) -> None:
        """Set ``attribute`` so that ``statistic(genuine, impostor)`` (increasing in it) meets ``target``."""
        for _ in range(steps):
            setattr(self, attribute, (low + high) / 2)
            if statistic(*self._measure()) < target:
                low = getattr(self, attribute)
            else:
                high = getattr(self, attribute)

    def _fit(self) -> None:
        median_g = np.median(self.real_genuine)
        tail_g, tail_i = np.quantile(self.real_genuine, 0.95), np.quantile(self.real_impostor, 0.01)

        def fit_within(spread):
            self.within_spread = spread
            self._bisect("within_scale", median_g, lambda g, i: np.median(g), 0.1, 4.0)
            return np.quantile(self._measure()[0], 0.95) / np.median(self._measure()[0])

        low, high = 0.0, 1.5
        for _ in range(12):
            middle = (low + high) / 2
            if fit_within(middle) < tail_g / median_g:
                low = middle
            else:
                high = middle
        fit_within((low + high) / 2)
        # Identities: a plain normal (a spread widened both tails of the impostor pairs), fitted on the
        # near tail; their median then comes out below the real one (more reviews, not fewer accepts).
        self._bisect("between_scale", tail_i, lambda g, i: np.quantile(i, 0.01), 0.1, 4.0)

    def comparison(self) -> list[tuple[str, float, float]]:
        genuine, impostor = self._measure(600, seed=7)
        against_real = 1.0 - self.photos(self.identities(600), 1) @ self.real_vectors.T
        rows = [("genuine pairs: median", np.median(self.real_genuine), np.median(genuine))]
        rows.append(("genuine pairs: 95%", np.quantile(self.real_genuine, 0.95), np.quantile(genuine, 0.95)))
        for q in (0.001, 0.01, 0.5):
            rows.append((f"impostor pairs: {q:.1%}", np.quantile(self.real_impostor, q), np.quantile(impostor, q)))
        rows.append(("impostor pairs: sd", self.real_impostor.std(), impostor.std()))
        for q in (0.001, 0.01, 0.5):
            rows.append(
                (
                    f"synthetic against real photos: {q:.1%}",
                    np.quantile(self.real_impostor, q),
                    np.quantile(against_real, q),
                )
            )
        return rows


@dataclass
class Tally:
    strangers_real: int = 0
    accepted_real: int = 0
    reviewed_real: int = 0
    strangers_synthetic: int = 0
    accepted_synthetic: int = 0
    enrolled_real: int = 0
    missed_real: int = 0
    reviewed_enrolled_real: int = 0
    misidentified_real: int = 0
    enrolled_synthetic: int = 0
    missed_synthetic: int = 0

    def add(self, other: "Tally") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def search_all(gallery: Gallery, limits: Thresholds, probes: list[tuple[np.ndarray, str | None, str]]) -> Tally:
    """probes: (embedding, enrolled person or None for a stranger, "real" or "synthetic")."""
    tally, lookalikes = Tally(), gallery.lookalike_index(within=limits.review)
    for vector, person, kind in probes:
        match = gallery.search(vector)
        decision = decide(match, limits, lookalikes=lookalikes)
        if person is None:
            setattr(tally, f"strangers_{kind}", getattr(tally, f"strangers_{kind}") + 1)
            setattr(tally, f"accepted_{kind}", getattr(tally, f"accepted_{kind}") + (decision is Decision.ACCEPT))
            if kind == "real":
                tally.reviewed_real += decision is Decision.REVIEW
        else:
            right = decision is Decision.ACCEPT and match.person == person
            setattr(tally, f"enrolled_{kind}", getattr(tally, f"enrolled_{kind}") + 1)
            setattr(tally, f"missed_{kind}", getattr(tally, f"missed_{kind}") + (not right))
            if kind == "real" and decision is Decision.ACCEPT and not right:
                tally.misidentified_real += 1
            if kind == "real" and decision is Decision.REVIEW:
                tally.reviewed_enrolled_real += 1
    return tally


def simulate(size, files, identities, vectors, synthetic, prior, rounds, strangers_per_round, rng):
    """Tallies at the defaults and at this gallery's own calibration, over ``rounds`` random splits."""
    owners = np.array(identities)
    multi = sorted(p for p in set(identities) if (owners == p).sum() > 1)
    real_count = min(size, len(multi) - 4)  # four people with several photos always stay strangers
    totals = {"defaults": Tally(), "calibrated": Tally()}
    thresholds_seen = []
    for _ in range(rounds):
        enrolled = set(rng.choice(multi, size=real_count, replace=False))
        rows, probes = [], []
        for person in sorted(set(identities)):
            indexes = np.flatnonzero(owners == person)
            if person in enrolled:
                held = int(rng.choice(indexes))
                rows += [(person, vectors[i]) for i in indexes if i != held]
                probes.append((vectors[held], person, "real"))
            else:
                probes += [(vectors[i], None, "real") for i in indexes]
        fill = size - real_count
        if fill:
            centroids = synthetic.identities(fill)
            photos = synthetic.photos(centroids, SAMPLES_PER_SYNTHETIC + 1).reshape(fill, SAMPLES_PER_SYNTHETIC + 1, -1)
            for k in range(fill):
                rows += [(f"synthetic-{k:04d}", photo) for photo in photos[k, :SAMPLES_PER_SYNTHETIC]]
                probes.append((photos[k, SAMPLES_PER_SYNTHETIC], f"synthetic-{k:04d}", "synthetic"))
        strangers = synthetic.photos(synthetic.identities(strangers_per_round), 1)
        probes += [(vector, None, "synthetic") for vector in strangers]
        gallery = Gallery(rows)
        calibrated = calibrate(gallery, target=1e-4, prior=prior).thresholds
        thresholds_seen.append(calibrated)
        totals["defaults"].add(search_all(gallery, DEFAULTS, probes))
        totals["calibrated"].add(search_all(gallery, calibrated, probes))
    samples = len(rows)
    return totals, thresholds_seen, samples


def rate(hits: int, trials: int) -> str:
    if not trials:
        return "—"
    if not hits:
        return f"0/{trials:,} (< {3 / trials:.2%})"
    return f"{hits}/{trials:,} = {hits / trials:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--deepface-home", default=str(REPO / "var" / "deepface"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--strangers", type=int, default=1000, help="synthetic strangers per round")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    files, identities, vectors = embed_shared(args.data, args.deepface_home)
    synthetic = SyntheticFaces(identities, vectors, args.seed)
    with open(args.data / "pairs.csv", newline="") as handle:
        pairs = [(r["file_a"], r["file_b"], r["same_person"] == "yes") for r in csv.DictReader(handle)]
    prior = prior_distances(pairs, dict(zip(files, vectors, strict=True)))
    rng = np.random.default_rng(args.seed)

    print(
        f"`.venv/bin/python benchmarks/bench_identification.py` on {datetime.now(UTC):%Y-%m-%d}: "
        f"{len(files)} real photos of {len(set(identities))} people, {args.rounds} random splits per size, "
        f"{args.strangers:,} synthetic strangers per split, seed {args.seed}\n"
    )
    print(
        "Synthetic faces against the real ones (cosine distances; fitted: photos scale "
        f"{synthetic.within_scale:.2f} spread {synthetic.within_spread:.2f}, identities scale "
        f"{synthetic.between_scale:.2f} spread {synthetic.between_spread:.2f}; the real column of the last "
        "rows is real impostor pairs):\n"
    )
    print("| statistic | real | synthetic |\n| --- | ---: | ---: |")
    for name, real, made in synthetic.comparison():
        print(f"| {name} | {real:.4f} | {made:.4f} |")
    print(
        "\n| people | samples | thresholds | accept / review / margin / look-alike | real strangers accepted (FPIR) "
        "| real strangers to review | synthetic strangers accepted (FPIR) | real enrolled not accepted (FNIR) "
        "| of which to review | real misidentified | synthetic enrolled not accepted (FNIR) |"
    )
    print("| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        totals, seen, samples = simulate(
            size, files, identities, vectors, synthetic, prior, args.rounds, args.strangers, rng
        )
        for name, tally in totals.items():
            if name == "defaults":
                limits = f"{DEFAULTS.accept} / {DEFAULTS.review} / {DEFAULTS.margin} / {DEFAULTS.lookalike_margin}"
            else:
                accepts = sorted(t.accept for t in seen)
                reviews = sorted(t.review for t in seen)
                limits = (
                    f"{accepts[0]:.3f}-{accepts[-1]:.3f} / {reviews[0]:.3f}-{reviews[-1]:.3f} / "
                    f"{max(t.margin for t in seen):.3f} / {max(t.lookalike_margin for t in seen):.3f}"
                )
            print(
                f"| {size:,} | {samples:,} | {name} | {limits} | {rate(tally.accepted_real, tally.strangers_real)} "
                f"| {rate(tally.reviewed_real, tally.strangers_real)} "
                f"| {rate(tally.accepted_synthetic, tally.strangers_synthetic)} "
                f"| {rate(tally.missed_real, tally.enrolled_real)} | {tally.reviewed_enrolled_real} "
                f"| {tally.misidentified_real} "
                f"| {rate(tally.missed_synthetic, tally.enrolled_synthetic)} |"
            )


if __name__ == "__main__":
    main()

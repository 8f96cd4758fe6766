"""How long does faces.matching.Gallery.search take per query as the enrolled gallery grows to 1,000,000 faces?

Synthetic unit float32 128-d embeddings, SAMPLES per person; each query is an enrolled face plus a
little noise, so its person is known. Baseline on the same matrix, in the same run: the plain
``np.linalg.norm(matrix - q, axis=1).argmin()`` (Euclidean on unit rows ranks like cosine).
Memory: "gallery MB" is what the process keeps after Gallery() (matrix, keys, people, index), "build
peak MB" the most it held above its size before the build, both from the resident set size.
"""

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import OtherCpu, machine_load, pct  # noqa: E402

from faces.matching import Gallery, normalise  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
SAMPLES = 2  # enrolled faces per person
ROSTER = 30  # people in the session's group, for search(among=...)


def timed(call, queries: list, *, runs: int, budget_s: float) -> list[float]:
    """Milliseconds per call, cycling through ``queries``: ``runs`` calls or ``budget_s`` seconds (at least 5)."""
    call(queries[0])
    times, deadline = [], time.monotonic() + budget_s
    for i in range(runs):
        start = time.perf_counter()
        call(queries[i % len(queries)])
        times.append((time.perf_counter() - start) * 1000)
        if i >= 4 and time.monotonic() > deadline:
            break
    return times


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def measure(size: int, rng: np.random.Generator, runs: int, budget_s: float) -> dict:
    vectors = normalise(rng.standard_normal((size, 128), dtype=np.float32))
    keys = [f"{100_000 + i // SAMPLES}" for i in range(size)]
    rss_before = rss_mb()
    start = time.perf_counter()
    gallery = Gallery(zip(keys, vectors, strict=True))
    build_s = time.perf_counter() - start
    # Sizes run in ascending order, so the process's peak so far is this build's peak.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    gallery_mb = rss_mb() - rss_before

    picks = rng.choice(size, 100, replace=False)
    queries = [normalise(vectors[i] + rng.normal(0, 0.02, 128).astype(np.float32)) for i in picks]
    truth = [keys[i] for i in picks]
    people = gallery.people
    rosters = [{people[i] for i in rng.choice(len(people), ROSTER - 1, replace=False)} | {p} for p in truth]

    assert all(gallery.search(q).person == person for q, person in zip(queries, truth, strict=True))
    matrix = gallery.matrix
    row_keys = np.asarray(sorted(keys), dtype=object)  # the gallery's row order
    assert row_keys[np.linalg.norm(matrix - queries[0], axis=1).argmin()] == truth[0]

    return {
        "size": size,
        "people": len(people),
        "build_s": build_s,
        "matrix_mb": matrix.nbytes / 2**20,
        "gallery_mb": gallery_mb,
        "peak_mb": peak_mb,
        "search": timed(gallery.search, queries, runs=runs, budget_s=budget_s),
        "among": timed(
            lambda item: gallery.search(item[0], among=item[1]),
            list(zip(queries, rosters, strict=True)),
            runs=runs,
            budget_s=budget_s,
        ),
        "matvec": timed(lambda q: matrix @ q, queries, runs=runs, budget_s=budget_s),
        "baseline": timed(lambda q: np.linalg.norm(matrix - q, axis=1).argmin(), queries, runs=runs, budget_s=budget_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=200, help="timed queries per measurement (at most)")
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per measurement (at most, roughly)")
    args = parser.parse_args()
    print(f"{machine_load()}; numpy {np.__version__}; {SAMPLES} faces per person; roster of {ROSTER}")
    print(f"process RSS at start: {rss_mb():.0f} MB\n")

    rng = np.random.default_rng(20261126)
    results = []
    for size in sorted(args.sizes):
        with OtherCpu() as others:
            results.append(measure(size, rng, args.runs, args.budget))
        results[-1]["others"] = others.cores
        gc.collect()

    print(
        "| faces | people | build s | matrix MB | gallery MB | build peak MB "
        "| search p50 / p95 ms | among 30 p50 / p95 ms | matrix @ q p50 ms | baseline p50 / p95 ms "
        "| baseline / search p50 | runs | other processes, cores |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        s, a, m, b = r["search"], r["among"], r["matvec"], r["baseline"]
        print(
            f"| {r['size']:,} | {r['people']:,} | {r['build_s']:.2f} | {r['matrix_mb']:.0f} | {r['gallery_mb']:.0f} "
            f"| {r['peak_mb']:.0f} | {pct(s, 50):.3f} / {pct(s, 95):.3f} | {pct(a, 50):.3f} / {pct(a, 95):.3f} "
            f"| {pct(m, 50):.3f} | {pct(b, 50):.2f} / {pct(b, 95):.2f} | {pct(b, 50) / pct(s, 50):.1f}x "
            f"| {len(s)}/{len(a)}/{len(m)}/{len(b)} | {r['others']:.2f} |"
        )
    at = {r["size"]: r for r in results}.get(100_000)
    if at:
        p50 = pct(at["search"], 50)
        verdict = "met" if p50 <= 5 else "NOT met"
        p95 = pct(at["search"], 95)
        print(f"\ntarget search p50 <= 5 ms at 100,000 faces: {verdict} ({p50:.2f} ms, p95 {p95:.2f} ms)")


if __name__ == "__main__":
    main()

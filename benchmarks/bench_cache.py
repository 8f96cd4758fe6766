"""How fast is a digest-cache hit of faces.embedding_cache.detect_faces, against the warm engine?

detect_faces looks the SHA-256 of the uploaded bytes up in Redis before running the engine, so a
frame seen before (a retry, a still camera) skips recognition. Same frames as bench_engine.py, a
private redis-server, Django with production settings (benchmarks.server_settings), all in one run.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_engine import make_frames, timed  # noqa: E402
from support import FACES, OtherCpu, django_app, machine_load, pct, redis_server  # noqa: E402


def measure(redis_url: str, jpegs: list[bytes], args) -> tuple[list, int]:
    """Rows of (step, milliseconds, note), and the hits Redis counted during the timed lookups."""
    import redis

    from attendx.cache import cache_get
    from faces.embedding_cache import detect_faces, embedding_cache_key
    from faces.images import image_digest
    from faces.pipeline import current_pipeline, get_engine
    from faces.uploads import decode_upload

    images = [decode_upload(jpeg) for jpeg in jpegs]
    engine = get_engine()
    engine.load()
    engine_times, _ = timed(lambda image: engine.detect_and_embed(image.rgb), images, args.engine_runs)

    miss_times = []  # first sight of each frame: the engine runs and the result is stored
    for image in images:
        key = embedding_cache_key(image.digest, current_pipeline())
        assert cache_get(key) is None
        start = time.perf_counter()
        detect_faces(image, remember=True)
        miss_times.append((time.perf_counter() - start) * 1000)
        assert cache_get(key) is not None, "the frame was not cached"

    server = redis.Redis.from_url(redis_url)
    hits_before = server.info("stats")["keyspace_hits"]
    hit_times, hits = timed(lambda image: detect_faces(image, remember=True), images, args.runs)
    redis_hits = server.info("stats")["keyspace_hits"] - hits_before
    for image, faces in zip(images, hits, strict=False):  # the cache gives back what the engine found
        expected = engine.detect_and_embed(image.rgb)
        assert [f.embedding.tolist() for f in faces] == [f.embedding.tolist() for f in expected]

    sha_times, _ = timed(image_digest, jpegs, args.runs)
    decode_times, _ = timed(decode_upload, jpegs, args.runs)
    both_times, _ = timed(lambda jpeg: detect_faces(decode_upload(jpeg), remember=True), jpegs, args.runs)
    rows = [
        ("engine detect+embed, warm", engine_times, f"{args.engine_runs} runs"),
        ("detect_faces, first sight (engine + Redis SET)", miss_times, f"{len(images)} frames, once each"),
        ("SHA-256 of the JPEG bytes", sha_times, "part of decode_upload"),
        ("decode_upload (checks, Pillow decode, SHA-256)", decode_times, "the view does it before detect_faces"),
        ("detect_faces, digest cache hit (lookup alone)", hit_times, "Redis GET, JSON, DetectedFace"),
        ("decode_upload + detect_faces, cache hit", both_times, "what a repeated upload costs"),
    ]
    return rows, redis_hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed calls of each cheap step")
    parser.add_argument("--engine-runs", type=int, default=60)
    args = parser.parse_args()
    load_before = machine_load()
    jpegs = make_frames(FACES)

    with redis_server() as redis_url, django_app(redis_url), OtherCpu() as others:
        rows, redis_hits = measure(redis_url, jpegs, args)

    print(f"{len(jpegs)} frames of 640x480 from {FACES}; {load_before} before; {others} during the run")
    print(f"Redis counted {redis_hits} hits for the {len(jpegs) + args.runs} cached lookups (warm-up + timed)\n")
    print("| step | p50 ms | p95 ms | notes |\n| --- | ---: | ---: | --- |")
    for name, times, note in rows:
        print(f"| {name} | {pct(times, 50):.2f} | {pct(times, 95):.2f} | {note} |")
    times = {name: value for name, value, _ in rows}
    engine = pct(times["engine detect+embed, warm"], 50)
    hit = pct(times["detect_faces, digest cache hit (lookup alone)"], 50)
    both = pct(times["decode_upload + detect_faces, cache hit"], 50)
    verdict = "met" if hit <= 5 else "NOT met"
    print(f"\nengine / cache hit, p50: {engine / hit:.0f}x for the lookup alone, {engine / both:.0f}x with the decode")
    print(f"target cache hit p50 <= 5 ms: {verdict} ({hit:.2f} ms alone, {both:.2f} ms with the decode)")


if __name__ == "__main__":
    main()

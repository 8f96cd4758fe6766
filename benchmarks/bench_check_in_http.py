"""How much does the web stack add to a face check-in over HTTP, against the engine alone?

gunicorn (gunicorn.conf.py, one worker) serves production settings (benchmarks.server_settings) on
loopback, with a private redis-server and a temporary SQLite file. Everyone in the manifest with two
or more single-face photos is enrolled with face_enroll from the first one and is a member of a class
whose session runs now; a kiosk signs in through the login form, then POSTs /api/check-ins with
640x480 JPEG frames of their *other* photos. Every frame is distinct (a 1-px shift per round), so the
digest cache cannot answer. After each request the benchmark runs Engine.detect_and_embed on the
same decoded frame itself, so both series see the same machine load. Last, some frames are sent again:
check-ins do not store their frames in the digest cache, so those cost the engine again too.

The web stack's fixed cost, in the same run: the same kiosk POSTs /api/check-ins without a file (a 400
that passes every middleware, the session, the sign-in, CSRF and the rate limit, and no more), and GETs
/healthz anonymously (gunicorn, the client and the loopback alone).
"""

import argparse
import csv
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import (  # noqa: E402
    FACES,
    PASSWORD,
    OtherCpu,
    django_app,
    fit_frame,
    gunicorn,
    machine_load,
    pct,
    redis_server,
    sign_in,
)


def photos_by_identity() -> dict[str, list[Path]]:
    people: dict[str, list[Path]] = {}
    with open(FACES / "manifest.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["faces_in_image"] == "1" and not row["file"].startswith("_"):
                people.setdefault(row["identity"], []).append(FACES / row["file"])
    return {identity: photos for identity, photos in people.items() if len(photos) >= 2}


def create_class(people: dict[str, list[Path]]) -> list[tuple[str, Path]]:
    """Kiosk, class, session running now, members enrolled from their first photo; returns the probes."""
    from django.utils import timezone

    from accounts.consent import record_consent
    from accounts.models import ConsentText, Role, User
    from attendance.models import Group, Session
    from faces.enrollment import Photo, PhotosRefused, face_enroll

    User.objects.create_user("kiosk", password=PASSWORD, role=Role.KIOSK)
    # Enrollment needs consent (accounts.consent): the bench attests paper forms, as enroll_faces --consent-on-file.
    operator = User.objects.create(username="bench-operator", role=Role.STAFF)
    ConsentText.objects.create(version=1, body="Benchmark consent text.")
    group = Group.objects.create(name="Bench class")
    probes = []
    for identity, (enrolled, *rest) in people.items():
        person = User.objects.create(username=identity, first_name=identity.split("_")[0].title(), last_name="X")
        record_consent(person=person, given_by="person", giver_name=str(person), method="paper", recorded_by=operator)
        try:
            face_enroll(person=person, photos=[Photo(enrolled.read_bytes(), enrolled.name)])
        except PhotosRefused as refused:
            print(f"  {identity}: enrollment refused ({refused}); not a member")
            continue
        group.members.add(person)
        probes += [(n, identity, photo) for n, photo in enumerate(rest)]
    start = timezone.now() - timedelta(minutes=5)
    Session.objects.create(group=group, title="Bench", starts_at=start, ends_at=start + timedelta(hours=3))
    # Round-robin over people, so that the first requests check many people in.
    return [(identity, photo) for _, identity, photo in sorted(probes)]


def post_frame(client, url: str, frame: bytes, key: str) -> tuple[float, dict]:
    headers = {"X-CSRFToken": client.cookies["csrftoken"], "Idempotency-Key": key}
    start = time.perf_counter()
    answer = client.post(url, files={"image": ("frame.jpg", frame, "image/jpeg")}, headers=headers, timeout=60)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code not in (200, 201) or "Idempotent-Replayed" in answer.headers:
        raise RuntimeError(f"check-in answered {answer.status_code}: {answer.text[:300]}")
    return elapsed, answer.json()


def post_nothing(client, url: str) -> float:
    start = time.perf_counter()
    answer = client.post(url, headers={"X-CSRFToken": client.cookies["csrftoken"]}, timeout=60)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 400:
        raise RuntimeError(f"a check-in without a file answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def timed_get(url: str) -> float:
    start = time.perf_counter()
    requests.get(url, timeout=10).raise_for_status()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=20, help="requests re-sending a frame already sent")
    args = parser.parse_args()
    load_before = machine_load()

    with redis_server() as redis_url, django_app(redis_url) as workdir:
        from faces.pipeline import get_engine
        from faces.uploads import decode_upload

        people = photos_by_identity()
        probes = create_class(people)
        rounds = -(-args.requests // len(probes))
        frames = [fit_frame(photo, shift=i // len(probes)) for i, (_, photo) in enumerate(probes * rounds)]
        frames = frames[: args.requests]
        images = [decode_upload(frame) for frame in frames]
        assert len({image.digest for image in images}) == len(frames), "frames are not all distinct"
        warm_up = [fit_frame(probes[i][1], shift=-1 - i) for i in range(3)]
        engine = get_engine()
        for image in images[:3]:
            engine.detect_and_embed(image.rgb)

        # The check-in limit is per device per minute (150/m); this single kiosk sends more.
        # Liveness off: it is a stage of its own (bench_liveness.py), not the web stack.
        env = {"ATTENDANCE_CHECK_IN_RATE": "100000/m", "ATTENDANCE_LIVENESS": "off"}
        with gunicorn(workdir, redis_url, workers=1, extra_env=env) as (base, _):
            kiosk = sign_in(base, "kiosk")
            url = f"{base}/api/check-ins"
            for i, frame in enumerate(warm_up):  # the worker builds its gallery (and loads models if not yet)
                post_frame(kiosk, url, frame, f"warm-{i}")
            http_ms, engine_ms, outcomes = [], [], Counter()
            with OtherCpu() as others:
                for i, (frame, image) in enumerate(zip(frames, images, strict=True)):
                    elapsed, body = post_frame(kiosk, url, frame, f"bench-{i}")
                    http_ms.append(elapsed)
                    outcomes.update(face.get("result", "?") for face in body["faces"])
                    outcomes["no face"] += not body["faces"]
                    start = time.perf_counter()
                    engine.detect_and_embed(image.rgb)
                    engine_ms.append((time.perf_counter() - start) * 1000)
                repeat_ms = [post_frame(kiosk, url, frames[i % len(frames)], f"r{i}")[0] for i in range(args.repeats)]
                empty_ms = [post_nothing(kiosk, url) for _ in range(args.requests)]
                health_ms = [timed_get(f"{base}/healthz") for _ in range(args.requests)]
        decode_ms = []
        for frame in frames:
            start = time.perf_counter()
            decode_upload(frame)
            decode_ms.append((time.perf_counter() - start) * 1000)

    enrolled = len({identity for identity, _ in probes})
    print(f"{enrolled} people enrolled, {len(probes)} probe photos, {args.requests} distinct 640x480 frames")
    print(f"before: {load_before}; while timing: {others}")
    print(f"outcomes per face: {dict(outcomes)}\n")
    rows = [
        ("POST /api/check-ins, new frame (HTTP, gunicorn)", http_ms),
        ("engine detect+embed on the same frames (in process)", engine_ms),
        ("decode_upload of the same frames (in process)", decode_ms),
        ("POST /api/check-ins, a frame sent before (same bytes)", repeat_ms),
        ("POST /api/check-ins without a file (400; the signed-in web stack alone)", empty_ms),
        ("GET /healthz, anonymous (gunicorn and loopback alone)", health_ms),
    ]
    print("| step | runs | p50 ms | p95 ms | mean ms |\n| --- | ---: | ---: | ---: | ---: |")
    for name, times in rows:
        print(f"| {name} | {len(times)} | {pct(times, 50):.1f} | {pct(times, 95):.1f} | {statistics.mean(times):.1f} |")
    p50, p95 = pct(http_ms, 50) / pct(engine_ms, 50), pct(http_ms, 95) / pct(engine_ms, 95)
    print(
        f"\nHTTP / engine: p50 {p50:.2f}x (+{pct(http_ms, 50) - pct(engine_ms, 50):.1f} ms), p95 {p95:.2f}x; "
        f"target web stack adds at most 20%: {'met' if p50 <= 1.2 else 'NOT met'} at p50"
    )
    floor = pct(empty_ms, 50) + pct(decode_ms, 50)
    print(
        f"fixed cost before any check-in work: {pct(empty_ms, 50):.1f} ms, with decoding {floor:.1f} ms "
        f"= {floor / pct(engine_ms, 50):.0%} of the engine (20% allowed)"
    )


if __name__ == "__main__":
    main()

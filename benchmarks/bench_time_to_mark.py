"""How long from a person stepping in front of the kiosk to "checked in", with agreement across frames?

gunicorn as shipped (gunicorn.conf.py, 2 workers) serves production settings (benchmarks.server_settings)
on loopback, with a private redis-server and a temporary SQLite file; 16 people from the shared photos
are enrolled and in a class whose session runs now. A simulated kiosk follows the kiosk page's clock
(attendance/static/attendance/kiosk.js): every INTERVAL it grabs a burst of BURST frames GAP apart and
POSTs them in one request; when the answer says "agreeing" it grabs the next burst at once. Each trial
a person appears at a random moment within the kiosk's interval: frames grabbed before show an empty
scene (no face), frames after show the person (another 1-px shift per frame, so no two are the same
bytes). The time runs from the person's appearance to the answer that says checked in.

Baseline, in the same run: the kiosk before agreement, one frame every 2.5 s, a single frame marks
(the server started with ATTENDANCE_AGREE_FRAMES=1). Both run with liveness off: a still photo is
never live, so this measures recognition and agreement; liveness adds its own time per frame.
"""

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_check_in_http import create_class, photos_by_identity  # noqa: E402
from support import OtherCpu, django_app, fit_frame, gunicorn, machine_load, pct, redis_server, sign_in  # noqa: E402


@dataclass(frozen=True)
class Kiosk:
    name: str
    interval: float  # seconds between bursts while idle
    burst: int  # frames per request
    gap: float  # seconds between the frames of a burst
    env: dict


# Liveness off in both: the frames are still photos, which the liveness check never takes for a live
# person (docs/liveness.md; its cost per frame is measured by bench_liveness.py).
NO_LIVENESS = {"ATTENDANCE_LIVENESS": "off"}
SHIPPED = Kiosk("kiosk page: 4-frame bursts every 1.5 s, 2 of the last 3 frames agree", 1.5, 4, 0.12, NO_LIVENESS)
BEFORE = Kiosk(
    "before: 1 frame every 2.5 s, one frame marks", 2.5, 1, 0.0, {"ATTENDANCE_AGREE_FRAMES": "1", **NO_LIVENESS}
)
EMPTY_SCENE = fit_frame(Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "_none" / "brick.png")


def trial(client, url: str, kiosk: Kiosk, person_photo: Path, rng: random.Random, counter: list[int]) -> float:
    """Seconds from the person's appearance to the answer that checks them in."""
    start = time.monotonic()
    appears = start + rng.uniform(0, kiosk.interval)
    next_tick = start
    while True:
        time.sleep(max(0.0, next_tick - time.monotonic()))
        frames = []
        for i in range(kiosk.burst):
            if i:
                time.sleep(kiosk.gap)
            counter[0] += 1
            seen = time.monotonic() >= appears
            frames.append(fit_frame(person_photo, shift=counter[0] % 200) if seen else EMPTY_SCENE)
        headers = {"X-CSRFToken": client.cookies["csrftoken"]}
        files = [("image", (f"frame-{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
        answer = client.post(url, files=files, headers=headers, timeout=60)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"check-in answered {answer.status_code}: {answer.text[:300]}")
        results = [face["result"] for face in answer.json()["faces"]]
        if "checked_in" in results:
            return time.monotonic() - appears
        if "agreeing" in results:
            next_tick = time.monotonic()  # the page grabs the next burst at once
            continue
        if time.monotonic() - appears > 20:
            raise RuntimeError(f"not checked in after 20 s: {results}")
        # The page's setInterval ticks on its own clock; a tick during the request is skipped.
        next_tick = start + kiosk.interval * (int((time.monotonic() - start) / kiosk.interval) + 1)


def accepted_probes(probes: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The probe photos the engine accepts as their person: this measures time, not recognition."""
    from faces.identification import face_identify
    from faces.matching import Decision
    from faces.uploads import decode_upload

    kept = []
    for identity, photo in probes:
        found = face_identify(image=decode_upload(fit_frame(photo)))
        if len(found) == 1 and found[0].decision is Decision.ACCEPT and found[0].person.username == identity:
            kept.append((identity, photo))
    return kept


def run(kiosk: Kiosk, workdir, redis_url, probes, trials: int, seed: int) -> list[float]:
    from attendance.models import Evidence, Record

    rng = random.Random(seed)
    env = {"ATTENDANCE_CHECK_IN_RATE": "100000/m", **kiosk.env}
    with gunicorn(workdir, redis_url, workers=2, extra_env=env) as (base, _):
        client = sign_in(base, "kiosk")
        url = f"{base}/api/check-ins"
        counter = [0]
        for _ in range(2):  # both workers build their gallery (and load models if not yet)
            trial(client, url, kiosk, probes[0][1], rng, counter)
            Evidence.objects.all().delete()
            Record.objects.all().delete()
        seconds = []
        for n in range(trials):
            _, photo = probes[n % len(probes)]
            seconds.append(trial(client, url, kiosk, photo, rng, counter))
            Evidence.objects.all().delete()
            Record.objects.all().delete()
            time.sleep(rng.uniform(0.2, 0.6))  # the person walks away; the next one comes
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    load_before = machine_load()

    with redis_server() as redis_url, django_app(redis_url) as workdir:
        probes = accepted_probes(create_class(photos_by_identity()))
        rows = []
        with OtherCpu() as others:
            for kiosk in (BEFORE, SHIPPED):
                rows.append((kiosk, run(kiosk, workdir, redis_url, probes, args.trials, args.seed)))

    people = len({identity for identity, _ in probes})
    print(f"{people} people, {len(probes)} of their photos accepted; {args.trials} trials per kiosk")
    print(f"before: {load_before}; while timing: {others}\n")
    print("| kiosk | trials | p50 s | p95 s | max s |\n| --- | ---: | ---: | ---: | ---: |")
    for kiosk, seconds in rows:
        p50, p95 = pct(seconds, 50), pct(seconds, 95)
        print(f"| {kiosk.name} | {len(seconds)} | {p50:.2f} | {p95:.2f} | {max(seconds):.2f} |")
    (_, before), (_, shipped) = rows
    ratio = pct(shipped, 50) / pct(before, 50)
    verdict = "met" if pct(shipped, 50) <= 1.5 else "NOT met"
    print(f"\nshipped / before: p50 {ratio:.2f}x; target p50 <= 1.5 s: {verdict}")
    print(f"mean {statistics.mean(shipped):.2f} s shipped, {statistics.mean(before):.2f} s before")


if __name__ == "__main__":
    main()

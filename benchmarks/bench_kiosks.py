"""How many face check-ins per second does gunicorn serve to 1, 4 and 8 kiosks at once, per configuration?

gunicorn (gunicorn.conf.py) serves production settings (benchmarks.server_settings) on loopback with a
private redis-server and a temporary SQLite file. The class of bench_check_in_http.py is enrolled; each
kiosk is its own device account and POSTs /api/check-ins with distinct 640x480 frames of the members'
*other* photos, as fast as answers come back, for a fixed number of requests per kiosk. Every answer is
checked: a 5xx, a dropped connection, a face count other than one or another person's name is counted,
and at the end every person must hold at most one record. The baseline, measured in the same run, is
the engine alone in this process on the same frames: one core's worth of check-ins per second.

    .venv/bin/python benchmarks/bench_kiosks.py                       # the shipped configuration
    .venv/bin/python benchmarks/bench_kiosks.py --config 2x1 --config 2x2 --config 2x4
"""

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_check_in_http import create_class, photos_by_identity  # noqa: E402
from support import (  # noqa: E402
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


def run_kiosks(base: str, kiosks: list[requests.Session], jobs: list[list[tuple[str, bytes]]], tag: str):
    """Every kiosk sends its frames one after the other, all kiosks at once; returns the measurements."""
    latencies: list[float] = []
    problems: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(kiosks) + 1)

    def kiosk_loop(index: int) -> None:
        client = kiosks[index]
        start.wait()
        for n, (person_key, frame) in enumerate(jobs[index]):
            headers = {"X-CSRFToken": client.cookies["csrftoken"], "Idempotency-Key": f"{tag}-{index}-{n}"}
            began = time.perf_counter()
            try:
                answer = client.post(
                    f"{base}/api/check-ins",
                    files={"image": ("frame.jpg", frame, "image/jpeg")},
                    headers=headers,
                    timeout=120,
                )
            except requests.RequestException as error:
                with lock:
                    problems[f"connection error ({type(error).__name__})"] += 1
                continue
            elapsed = (time.perf_counter() - began) * 1000
            problem = judge(answer, person_key)
            with lock:
                latencies.append(elapsed)
                if problem:
                    problems[problem] += 1

    threads = [threading.Thread(target=kiosk_loop, args=(i,)) for i in range(len(kiosks))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, problems, time.perf_counter() - began


def judge(answer: requests.Response, person_key: str) -> str | None:
    if answer.status_code >= 500:
        return f"HTTP {answer.status_code}"
    if answer.status_code not in (200, 201):
        return f"HTTP {answer.status_code} {answer.text[:80]}"
    faces = answer.json()["faces"]
    if len(faces) != 1:
        return f"{len(faces)} faces in a one-face frame"
    person = faces[0].get("person")
    if person is not None and person["id"] != person_key:
        return "wrong person"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="WORKERSxTHREADS; default: gunicorn.conf.py's")
    parser.add_argument("--kiosks", default="1,4,8", help="comma-separated numbers of concurrent kiosks")
    parser.add_argument("--requests", type=int, default=48, help="requests per run, spread over the kiosks")
    args = parser.parse_args()
    counts = [int(n) for n in args.kiosks.split(",")]
    load_before = machine_load()

    with redis_server() as redis_url, django_app(redis_url) as workdir:
        from accounts.models import Role, User
        from attendance.models import Record
        from faces.pipeline import get_engine
        from faces.uploads import decode_upload

        configs = args.config or [default_config()]
        probes = create_class(photos_by_identity())
        for i in range(max(counts)):
            User.objects.create_user(f"kiosk{i}", password=PASSWORD, role=Role.KIOSK)
        keys = {user.username: str(user.pk) for user in User.objects.all()}
        rounds = -(-args.requests * 2 // len(probes))
        frames = [
            (keys[identity], fit_frame(photo, shift=i // len(probes)))
            for i, (identity, photo) in enumerate(probes * rounds)
        ]

        engine = get_engine()
        images = [decode_upload(frame).rgb for _, frame in frames[: args.requests]]
        engine.detect_and_embed(images[0])
        began = time.perf_counter()
        for rgb in images:
            engine.detect_and_embed(rgb)
        engine_rate = len(images) / (time.perf_counter() - began)

        rows, worker_rss = [], {}
        for config in configs:
            workers, threads = (int(v) for v in config.split("x"))
            # Liveness off: the frames are still photos (its cost: "Liveness" in docs/benchmarks.md).
            env = {"GUNICORN_THREADS": str(threads), "ATTENDANCE_CHECK_IN_RATE": "100000/m"}
            env["ATTENDANCE_LIVENESS"] = "off"
            with gunicorn(workdir, redis_url, workers=workers, extra_env=env) as (base, master):
                kiosks = [sign_in(base, f"kiosk{i}") for i in range(max(counts))]
                for n in counts:
                    Record.objects.all().delete()
                    per_kiosk = max(1, args.requests // n)
                    jobs = [frames[k * per_kiosk : (k + 1) * per_kiosk] for k in range(n)]
                    warm = [[frames[-1 - k]] for k in range(n)]
                    run_kiosks(base, kiosks[:n], warm, f"warm-{config}-{n}")
                    Record.objects.all().delete()
                    booted = worker_boots(workdir)
                    with OtherCpu() as others:
                        latencies, problems, seconds = run_kiosks(base, kiosks[:n], jobs, f"{config}-{n}")
                    if worker_boots(workdir) > booted:
                        problems["workers restarted"] += worker_boots(workdir) - booted
                    duplicates = Record.objects.count() - Record.objects.values("session", "person").distinct().count()
                    if duplicates:
                        problems["duplicate records"] += duplicates
                    rows.append((config, n, len(latencies), seconds, latencies, problems, others))
                worker_rss[config] = max(child.memory_info().rss for child in psutil.Process(master).children())

    print(f"{len(probes)} probe photos of {len({p for p, _ in probes})} people; 640x480 JPEG frames, all distinct")
    print(f"before: {load_before}; config: gunicorn workers x threads")
    print(f"baseline: engine alone in this process, serial: {engine_rate:.2f} check-ins/s\n")
    print("| config | kiosks | answered | per s | x engine | p50 ms | p95 ms | problems | other cores |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for config, n, answered, seconds, latencies, problems, others in rows:
        rate = answered / seconds
        p50 = pct(latencies, 50) if len(latencies) > 1 else float("nan")
        p95 = pct(latencies, 95) if len(latencies) > 1 else float("nan")
        issues = ", ".join(f"{k}: {v}" for k, v in problems.items()) or "none"
        print(
            f"| {config} | {n} | {answered} | {rate:.2f} | {rate / engine_rate:.2f} | {p50:.0f} | {p95:.0f} "
            f"| {issues} | {others.cores:.2f} |"
        )
    for config, rss in worker_rss.items():
        print(f"\n{config}: largest worker resident after the runs: {rss / 2**20:.0f} MB")


def worker_boots(workdir: Path) -> int:
    """Workers gunicorn has started so far (a crashed worker is replaced by a new one)."""
    return sum(log.read_text(errors="replace").count("Booting worker") for log in workdir.glob("gunicorn-*.log"))


def default_config() -> str:
    """WORKERSxTHREADS as gunicorn.conf.py sets them from its defaults."""
    path = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - our own config file
    return f"{namespace['workers']}x{namespace['threads']}"


if __name__ == "__main__":
    main()

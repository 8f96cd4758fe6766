"""How many camera frames per second do 2 Celery recognition workers process, against 1, for 16 cameras?

Topology, all on loopback: one redis-server (cache in database 0, the Celery broker in 1), one MongoDB
(secantusdb, in memory, migrated first), 2 web instances (gunicorn -c gunicorn.conf.py, production
settings, one worker each, probed on /healthz during the run), one ``manage.py camera_poller`` process
polling 16 cameras (a thread each) from a go2rtc stand-in that serves 16 streams, and 1 (the baseline)
then 2 ``celery -A attendx worker -Q frames -c 1`` processes. Each camera shows members of the class
one after another, a few frames each: real shared photos fitted to 640x480, shifted a pixel per frame,
with the camera and frame number in a JPEG comment so that every frame has its own bytes. Cameras ask
faster than workers can recognise; the poller stops asking while the queue holds --backlog frames.
Liveness is off (still photos are never live). Every record is checked at the end: one per person per
session, and only people whom that camera showed.

    .venv/bin/python benchmarks/bench_cameras_scale.py                # about 2 minutes
    .venv/bin/python benchmarks/bench_cameras_scale.py --seconds 40 --interval 0.25
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_check_in_http import create_class, photos_by_identity  # noqa: E402
from support import (  # noqa: E402
    REPO,
    OtherCpu,
    django_app,
    fit_frame,
    free_port,
    gunicorn,
    machine_load,
    pct,
    redis_server,
    wait_until,
)

SHIFTS = 12  # pixel-distinct variants of each photo
FRAMES_PER_PERSON = 6  # consecutive frames a camera shows the same person


@contextmanager
def mongodb():
    """secantusdb in memory on a free port; yields its URI (database attendx)."""
    port = free_port()
    command = [str(REPO / ".venv" / "bin" / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", ":memory:", "--enable-test-commands"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import pymongo

        client = pymongo.MongoClient(port=port, serverSelectionTimeoutMS=1000, directConnection=True)
        wait_until(lambda: client.admin.command("ping"), seconds=30, what="secantusd-py")
        yield f"mongodb://127.0.0.1:{port}/attendx"
    finally:
        process.terminate()
        process.wait(timeout=20)


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a comment segment (COM) after its start marker: other bytes, the same pixels."""
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


class Go2rtcStandIn:
    """go2rtc's snapshot endpoint for many streams (pytest-httpserver, threaded): camera i's n-th frame
    shows the person of its schedule."""

    def __init__(self, server: HTTPServer, frames: dict[str, list[bytes]], cameras: int):
        self.frames = frames
        self.people = sorted(frames)
        self.served: dict[int, set[str]] = {i: set() for i in range(cameras)}
        self.requests = 0
        self._counters = [0] * cameras
        self._lock = threading.Lock()
        self.server = server
        server.expect_request("/api/frame.jpeg").respond_with_handler(self._snapshot)
        self.url = server.url_for("/").rstrip("/")

    def _snapshot(self, request: Request) -> Response:
        src = request.args.get("src", "")
        camera = int(src.removeprefix("cam"))
        with self._lock:
            n = self._counters[camera]
            self._counters[camera] += 1
            self.requests += 1
            person = self.people[(camera * 5 + n // FRAMES_PER_PERSON) % len(self.people)]
            self.served[camera].add(person)
            # Counted here; the server's own log would keep every frame it served until the end.
            self.server.clear_log()
        return Response(with_comment(self.frames[person][n % SHIFTS], f"{src} frame {n}"), content_type="image/jpeg")


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=handle, start_new_session=True)
    process.log_handle = handle
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    process.log_handle.close()


def probe_web(bases: list[str], stop_event: threading.Event, latencies: list[float], failures: list[str]) -> None:
    while not stop_event.wait(0.5):
        for base in bases:
            began = time.perf_counter()
            try:
                answer = requests.get(f"{base}/healthz", timeout=5)
                if not answer.ok:
                    failures.append(f"HTTP {answer.status_code}")
            except requests.RequestException as error:
                failures.append(type(error).__name__)
            latencies.append((time.perf_counter() - began) * 1000)


def run_config(workers: int, args, env: dict, workdir: Path, stand_in: Go2rtcStandIn, bases: list[str]) -> dict:
    from attendance.frames import frame_counts, frames_waiting
    from attendance.models import Record
    from attendx.celery import app

    Record.objects.all().delete()
    with ExitStack() as stack:
        names = [f"bench{workers}-{k}-{os.getpid()}@localhost" for k in range(workers)]
        for name in names:
            command = [sys.executable, "-m", "celery", "-A", "attendx", "worker", "-n", name, "-c", "1", "-Q", "frames"]
            command += ["--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
            process = start(command, env, workdir / f"worker-{name.split('@')[0]}.log")
            stack.callback(stop, process)
        wait_until(lambda: len(app.control.ping(destination=names, timeout=1)) == workers, seconds=60, what="workers")
        poller_command = [sys.executable, "manage.py", "camera_poller", "--interval", str(args.interval)]
        poller = start(poller_command, env, workdir / f"poller-{workers}.log")
        stack.callback(stop, poller)
        # Warm-up: every worker loads its engine on its first frames.
        before = frame_counts().get("checked", 0)
        wait_until(lambda: frame_counts().get("checked", 0) >= before + 4 * workers, seconds=90, what="first frames")
        time.sleep(args.warmup)

        latencies: list[float] = []
        failures: list[str] = []
        probing = threading.Event()
        prober = threading.Thread(target=probe_web, args=(bases, probing, latencies, failures))
        counts_before, requests_before = frame_counts(), stand_in.requests
        prober.start()
        with OtherCpu() as others:
            began = time.perf_counter()
            time.sleep(args.seconds)
            counts_after, requests_after = frame_counts(), stand_in.requests
            seconds = time.perf_counter() - began
        probing.set()
        prober.join()
        stop(poller)
        wait_until(lambda: frames_waiting() == 0, seconds=30, what="an empty queue")
    delta = {key: counts_after.get(key, 0) - counts_before.get(key, 0) for key in counts_after}
    records = list(Record.objects.select_related("session", "person"))
    pairs = {(record.session_id, record.person_id) for record in records}
    wrong = sum(
        record.person.username not in stand_in.served[int(record.session.location.removeprefix("Room "))]
        for record in records
    )
    return {
        "workers": workers,
        "seconds": seconds,
        "snapshots": requests_after - requests_before,
        "counts": delta,
        "records": len(records),
        "duplicate_records": len(records) - len(pairs),
        "wrong": wrong,
        "web_p50": pct(latencies, 50) if len(latencies) > 1 else float("nan"),
        "web_failures": len(failures),
        "others": others,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between a camera's snapshots")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=5, help="seconds after the first frames, before measuring")
    parser.add_argument("--backlog", type=int, default=16, help="ATTENDANCE_CAMERA_FRAME_BACKLOG for the run")
    args = parser.parse_args()
    load_before = machine_load()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's line per snapshot

    with redis_server() as redis_url, mongodb() as mongo_uri, HTTPServer(host="127.0.0.1", threaded=True) as go2rtc:
        os.environ.update(
            {
                "MONGODB_URI": mongo_uri,
                "ATTENDANCE_LIVENESS": "off",  # still photos are never live
                "ATTENDANCE_CAMERA_FRAME_BACKLOG": str(args.backlog),
            }
        )
        with django_app(redis_url) as workdir:
            from django.utils import timezone

            from attendance.models import Camera, Group, Session

            probes = create_class(photos_by_identity())
            frames: dict[str, list[bytes]] = {}
            for identity, photo in probes:
                if identity not in frames:
                    frames[identity] = [fit_frame(photo, shift=shift) for shift in range(SHIFTS)]
            group = Group.objects.get(name="Bench class")
            start_at = timezone.now() - timedelta(minutes=5)
            stand_in = Go2rtcStandIn(go2rtc, frames, args.cameras)
            for i in range(args.cameras):
                location = f"Room {i}"
                Session.objects.create(
                    group=group,
                    title=f"Bench {i}",
                    starts_at=start_at,
                    ends_at=start_at + timedelta(hours=3),
                    location=location,
                )
                Camera.objects.create(
                    name=f"cam{i}", go2rtc_url=stand_in.url, location=location, interval_seconds=args.interval
                )
            env = {**os.environ}
            rows = []
            with ExitStack() as web:
                bases = [web.enter_context(gunicorn(workdir, redis_url, workers=1))[0] for _ in range(2)]
                for workers in (1, 2):
                    rows.append(run_config(workers, args, env, workdir, stand_in, bases))
            sizes = [len(frame) for variants in frames.values() for frame in variants]

    offered = args.cameras / args.interval
    print(f"{args.cameras} cameras, a snapshot every {args.interval} s each (up to {offered:.0f}/s);")
    print(f"{len(frames)} people, {FRAMES_PER_PERSON} frames each in turn, 640x480 JPEG frames of")
    print(f"{sum(sizes) / len(sizes) / 1024:.0f} KB on average, all distinct")
    print(f"backlog {args.backlog} frames, max age 4 s; liveness off; {args.seconds:.0f} s measured per row")
    print(f"before: {load_before}\n")
    print(
        "| workers | snapshots | recognised | per s | x 1 worker | stale | duplicate | records | duplicate records "
        "| wrong person | web /healthz p50 ms (failures) | other cores |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    baseline = rows[0]["counts"].get("checked", 0) / rows[0]["seconds"]
    for row in rows:
        counts = row["counts"]
        rate = counts.get("checked", 0) / row["seconds"]
        cells = [
            row["workers"],
            row["snapshots"],
            counts.get("checked", 0),
            f"{rate:.2f}",
            f"{rate / baseline:.2f}",
            counts.get("stale", 0),
            counts.get("duplicate", 0),
            row["records"],
            row["duplicate_records"],
            row["wrong"],
            f"{row['web_p50']:.1f} ({row['web_failures']})",
            f"{row['others'].cores:.2f}",
        ]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
    other = {k: v for row in rows for k, v in row["counts"].items() if k not in {"checked", "stale", "duplicate"}}
    if other:
        print(f"\nother outcomes: {other}")


if __name__ == "__main__":
    main()

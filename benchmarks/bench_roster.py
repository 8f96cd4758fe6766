"""How many roster pages (/attendance/sessions/<id>/, 200 people) per second, with the Redis cache and without?

gunicorn (gunicorn.conf.py, two workers) serves production settings (benchmarks.server_settings) on
loopback with a temporary SQLite file; wrk loads the page as a signed-in staff member. Run twice:
REDIS_URL at a private redis-server (roster, sessions and generations cached), then at a closed port
(the app runs without Redis: every request computes the roster and reads the session from SQLite).
Needs wrk: apt-get install -y wrk.
"""

import argparse
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import (  # noqa: E402
    PASSWORD,
    closed_redis_url,
    django_app,
    gunicorn,
    machine_load,
    pct,
    redis_server,
    sign_in,
)

FIRST = ["Ada", "Ben", "Chloe", "Dan", "Eva", "Finn", "Grace", "Hugo", "Iris", "Jon", "Kate", "Leo", "Mia", "Noah"]
LAST = ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Green"]


def create_session(members: int):
    """A class of ``members`` people, a session that started 20 minutes ago, and a mix of records."""
    from django.utils import timezone

    from accounts.models import Role, User
    from attendance.models import Change, Group, Method, Record, RecordChange, Session, Status

    staff = User.objects.create_user("staff", password=PASSWORD, role=Role.STAFF, first_name="Sam", last_name="Staff")
    people = User.objects.bulk_create(
        User(username=f"m{i:03d}", first_name=FIRST[i % len(FIRST)], last_name=LAST[i % len(LAST)])
        for i in range(members)
    )
    group = Group.objects.create(name="Bench year group")
    group.members.set(people)
    start = timezone.now() - timedelta(minutes=20)
    session = Session.objects.create(group=group, title="Assembly", starts_at=start, ends_at=start + timedelta(hours=2))
    records, changes = [], []
    for i, person in enumerate(people):  # 60% present, 10% late, 10% excused by hand, 20% not arrived yet
        kind = i % 10
        if kind <= 5:
            records.append(Record(session=session, person=person, status=Status.PRESENT, method=Method.FACE))
        elif kind == 6:
            records.append(Record(session=session, person=person, status=Status.LATE, method=Method.CAMERA))
        elif kind == 7:
            excused = Record(session=session, person=person, status=Status.EXCUSED, method=Method.MANUAL)
            records.append(excused)
            excused.marked_by = staff
            changes.append(RecordChange(session=session, person=person, action=Change.MARKED, by=staff, status="excused"))
    Record.objects.bulk_create(records)
    RecordChange.objects.bulk_create(changes)
    return session, Counter(record.status for record in records)


def in_process(session, runs: int) -> list[tuple[str, list[float]]]:
    """Where the page's time goes, in this process (Redis up): the roster computed, cached, the whole view."""
    from django.test import RequestFactory
    from django.utils import timezone

    from accounts.models import User
    from attendance import selectors, views

    request = RequestFactory().get(f"/attendance/sessions/{session.pk}/")
    request.user = User.objects.get(username="staff")

    def timed(call) -> list[float]:
        call()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        return times

    return [
        ("roster computed (selectors._roster: queries + Python)", timed(lambda: selectors._roster(session, timezone.now()))),
        ("roster from the Redis cache (roster_for_session)", timed(lambda: selectors.roster_for_session(session))),
        ("whole view, cache hit (RequestFactory, no middleware)", timed(lambda: views.session_detail(request, session.pk))),
    ]


def seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1}[unit]


def run_wrk(url: str, cookie: str, *, duration: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"Cookie: {cookie}", url]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": seconds(latency["50"]) * 1000,
        "p99": seconds(latency["99"]) * 1000,
        "errors": int(errors.group(1)) if errors else 0,
    }


def serve_and_load(workdir: Path, redis_url: str, page: str, members: int, args) -> dict:
    with gunicorn(workdir, redis_url, workers=2) as base:
        staff = sign_in(base, "staff")
        cookie = f"sessionid={staff.cookies['sessionid']}; csrftoken={staff.cookies['csrftoken']}"
        check = staff.get(base + page, timeout=10)
        rows = check.text.count("data-person=")
        if check.status_code != 200 or rows != members:
            raise RuntimeError(f"roster page: HTTP {check.status_code} with {rows} rows")
        run_wrk(base + page, cookie, duration=3, connections=args.connections)  # warm-up: templates, connections
        load = machine_load()
        result = run_wrk(base + page, cookie, duration=args.duration, connections=args.connections)
    log = "\n".join(path.read_text(errors="replace") for path in workdir.glob("gunicorn-*.log"))
    statuses = Counter(re.findall(rf'"GET {re.escape(page)} HTTP/1.1" (\d+)', log))
    for path in workdir.glob("gunicorn-*.log"):
        path.unlink()
    return {**result, "load": load, "statuses": dict(statuses), "boots": log.count("Booting worker")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--runs", type=int, default=100, help="in-process timings")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk (Debian package)")
    load_before = machine_load()

    with redis_server() as redis_url, django_app(redis_url) as workdir:
        session, statuses = create_session(args.members)
        page = f"/attendance/sessions/{session.pk}/"
        breakdown = in_process(session, args.runs)
        on = serve_and_load(workdir, redis_url, page, args.members, args)
        off = serve_and_load(workdir, closed_redis_url(), page, args.members, args)

    print(f"{args.members} members, records {dict(statuses)}; {load_before} before")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s on {page}, gunicorn 2 workers x 2 threads\n")
    print("| run | requests/s | p50 ms | p99 ms | requests | HTTP statuses in the access log | load during |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for name, r in (("Redis cache on", on), ("cache off (Redis refused)", off)):
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(r["statuses"].items()))
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['requests']} "
            f"| {statuses} | {r['load']} |"
        )
        if r["errors"] or r["boots"] != 2:
            print(f"  warning: {r['errors']} non-2xx/3xx answers, {r['boots']} worker boots (2 expected)")
    print(
        f"\ncache on / off: {on['rps'] / off['rps']:.2f}x requests/s, "
        f"p50 {off['p50'] / on['p50']:.2f}x lower, p99 {off['p99'] / on['p99']:.2f}x lower"
    )
    print(f"\nIn process ({args.runs} runs each):\n\n| step | p50 ms | p95 ms |\n| --- | ---: | ---: |")
    for name, times in breakdown:
        print(f"| {name} | {pct(times, 50):.2f} | {pct(times, 95):.2f} |")


if __name__ == "__main__":
    main()

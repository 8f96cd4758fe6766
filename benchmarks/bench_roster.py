"""How many roster pages (/attendance/sessions/<id>/, 200 people) per second, with the Redis cache and without?

gunicorn (gunicorn.conf.py, two workers) serves production settings (benchmarks.server_settings) on
loopback with a temporary SQLite file; wrk loads the page as a signed-in staff member, with the Redis
cache on (REDIS_URL at a private redis-server: roster, sessions and generations cached), then off
(REDIS_URL at a closed port: the app runs without Redis, every request computes the roster and reads
the session from SQLite). Both with keep-alive connections (wrk's default) and with Connection: close,
since gthread workers keep the keep-alive connections they accepted. Needs wrk: apt-get install -y wrk.
"""

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from unittest import mock

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import (  # noqa: E402
    PASSWORD,
    OtherCpu,
    closed_redis_url,
    cpu_seconds,
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
            change = RecordChange(session=session, person=person, action=Change.MARKED, by=staff, status="excused")
            changes.append(change)
    Record.objects.bulk_create(records)
    RecordChange.objects.bulk_create(changes)
    return session, Counter(str(record.status) for record in records)


def in_process(session, runs: int) -> list[tuple[str, list[float]]]:
    """Where the page's time goes, in this process (Redis up): the roster, the template, the whole view.

    The last row renders a copy of the template without the per-row mark form (an experiment only).
    """
    from django.template import engines
    from django.template.loader import get_template
    from django.test import RequestFactory
    from django.utils import timezone

    from accounts.models import User
    from attendance import selectors, views

    request = RequestFactory().get(f"/attendance/sessions/{session.pk}/")
    request.user = User.objects.get(username="staff")
    template = get_template("attendance/session_detail.html")
    without_forms = engines["django"].from_string(
        re.sub(r"<td>\s*<form.*?</form>\s*</td>", "", Path(template.origin.name).read_text(), flags=re.S)
    )
    context = {}  # the view's context, captured once (its queries have run)
    with mock.patch.object(views, "render", lambda request, name, values: context.update(values)):
        views.session_detail(request, session.pk)

    def timed(call) -> list[float]:
        call()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        return times

    def compute():
        return selectors._roster(session, timezone.now())

    return [
        ("roster computed (selectors._roster: queries + Python)", timed(compute)),
        ("roster from the Redis cache (roster_for_session)", timed(lambda: selectors.roster_for_session(session))),
        ("template render, as in the tree", timed(lambda: template.render(context, request))),
        ("template render without the per-row mark form", timed(lambda: without_forms.render(context, request))),
        (
            "whole view, cache hit (RequestFactory, no middleware)",
            timed(lambda: views.session_detail(request, session.pk)),
        ),
    ]


def seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1}[unit]


def run_wrk(url: str, headers: list[str], *, duration: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M))
    if len(latency) != 2:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": seconds(latency["50"]) * 1000,
        "p99": seconds(latency["99"]) * 1000,
        "errors": int(errors.group(1)) if errors else 0,
    }


def serve_and_load(workdir: Path, redis_url: str, page: str, args, *, close: bool) -> dict:
    """One gunicorn, one warm-up, one timed wrk run; ``close`` sends Connection: close (no keep-alive)."""
    with gunicorn(workdir, redis_url, workers=2) as (base, pid):
        staff = sign_in(base, "staff")
        check = staff.get(base + page, timeout=10)
        rows = check.text.count("data-person=")
        if check.status_code != 200 or rows != args.members:
            raise RuntimeError(f"roster page: HTTP {check.status_code} with {rows} rows")
        headers = [f"Cookie: sessionid={staff.cookies['sessionid']}; csrftoken={staff.cookies['csrftoken']}"]
        headers += ["Connection: close"] if close else []
        run_wrk(base + page, headers, duration=3, connections=args.connections)  # warm-up
        workers = [child.pid for child in psutil.Process(pid).children()]
        before = cpu_seconds(workers)
        with OtherCpu() as others:
            result = run_wrk(base + page, headers, duration=args.duration, connections=args.connections)
        worker_cpu = [after - start for after, start in zip(cpu_seconds(workers), before, strict=True)]
    log = "\n".join(path.read_text(errors="replace") for path in workdir.glob("gunicorn-*.log"))
    statuses = Counter(re.findall(rf'"GET {re.escape(page)} HTTP/1.1" (\d+)', log))
    for path in workdir.glob("gunicorn-*.log"):
        path.unlink()
    boots = log.count("Booting worker")
    return {
        **result,
        "others": others.cores,
        "statuses": dict(statuses),
        "boots": boots,
        "worker_cpu": worker_cpu,
        "cpu_ms": sum(worker_cpu) * 1000 / result["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs (cache on, off) per connection mode")
    parser.add_argument("--runs", type=int, default=100, help="in-process timings")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk (Debian package)")
    load_before = machine_load()

    with redis_server() as redis_url, django_app(redis_url) as workdir:
        session, statuses = create_session(args.members)
        page = f"/attendance/sessions/{session.pk}/"
        breakdown = in_process(session, args.runs)
        runs = []  # cache on and off alternate, so that a burst of other work is less likely to hit one only
        for connection, close in (("keep-alive", False), ("close", True)):
            for _ in range(args.rounds):
                for cache, url in (("on", redis_url), ("off (Redis refused)", closed_redis_url())):
                    runs.append((connection, cache, serve_and_load(workdir, url, page, args, close=close)))

    print(f"{args.members} members, records {dict(statuses)}; {load_before} before")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s on {page}, gunicorn 2 workers x 2 threads\n")
    print(
        "| connections | Redis cache | requests/s | p50 ms | p99 ms | requests | CPU s per worker "
        "| worker CPU ms per request | statuses in the access log | other processes, cores |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |")
    for connection, cache, r in runs:
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(r["statuses"].items()))
        cpu = " + ".join(f"{seconds:.1f}" for seconds in r["worker_cpu"])
        print(
            f"| {connection} | {cache} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['requests']} "
            f"| {cpu} | {r['cpu_ms']:.1f} | {statuses} | {r['others']:.2f} |"
        )
        if r["errors"] or r["boots"] != 2:
            print(f"  warning: {r['errors']} non-2xx/3xx answers, {r['boots']} worker boots (2 expected)")

    print()
    for connection in ("keep-alive", "close"):

        def mean(cache: str, field: str, connection=connection) -> float:
            return statistics.mean(r[field] for c, k, r in runs if c == connection and k.startswith(cache))

        print(
            f"{connection}: cache on / off {mean('on', 'rps') / mean('off', 'rps'):.2f}x requests/s; "
            f"p50 {mean('off', 'p50') / mean('on', 'p50'):.2f}x, p99 {mean('off', 'p99') / mean('on', 'p99'):.2f}x "
            f"lower with the cache; worker CPU per request off / on {mean('off', 'cpu_ms') / mean('on', 'cpu_ms'):.2f}x"
        )
    print(f"\nIn process ({args.runs} runs each):\n\n| step | p50 ms | p95 ms |\n| --- | ---: | ---: |")
    for name, times in breakdown:
        print(f"| {name} | {pct(times, 50):.2f} | {pct(times, 95):.2f} |")


if __name__ == "__main__":
    main()

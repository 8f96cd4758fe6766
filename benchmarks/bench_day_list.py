"""How long does the staff day list (/attendance/) take with 430 sessions today, and how many report keys
does one check-in make it rewrite?

Django in this process on a temporary SQLite file with a private redis-server: 43 classes of 30 people,
430 sessions today, a third of the people marked. Each round marks one more person (as a check-in
would: the reports generation is bumped), then times the view twice: right after the change (the
cache was invalidated) and again (cache hit). The baseline, measured in the same run on the same
data, is what the list did before: one cached roster per session (roster_summary(roster_for_session)).
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import PASSWORD, OtherCpu, django_app, machine_load, pct, redis_server  # noqa: E402


def create_day(classes: int, sessions: int, members: int):
    from django.utils import timezone

    from accounts.models import Role, User
    from attendance.models import Group, Method, Record, Session, Status

    staff = User.objects.create_user("staff", password=PASSWORD, role=Role.STAFF)
    people = User.objects.bulk_create(User(username=f"p{i:04d}") for i in range(classes * members))
    groups = [Group.objects.create(name=f"Class {n}") for n in range(classes)]
    for n, group in enumerate(groups):
        group.members.set(people[n * members : (n + 1) * members])
    start = timezone.now() - timedelta(minutes=30)
    Session.objects.bulk_create(
        Session(group=groups[n % classes], title=f"Lesson {n}", starts_at=start, ends_at=start + timedelta(hours=2))
        for n in range(sessions)
    )
    records = [
        Record(session=session, person=person, status=Status.PRESENT, method=Method.FACE)
        for session in Session.objects.all()
        for person in list(session.group.members.all())[: members // 3]
    ]
    Record.objects.bulk_create(records)
    return staff, list(Session.objects.select_related("group"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    load_before = machine_load()

    with redis_server() as redis_url, django_app(redis_url):
        from django.test import RequestFactory
        from django.utils import timezone

        from attendance import selectors, views
        from attendance.services import mark_manually
        from attendx.cache import get_redis_client

        staff, sessions = create_day(classes=43, sessions=430, members=30)
        factory = RequestFactory()

        def view():
            request = factory.get("/attendance/")
            request.user = staff
            return views.session_list(request)

        def per_session_rosters():
            todays = selectors.sessions_for_day(timezone.localdate()).select_related("group").order_by("starts_at")
            return [(s, selectors.roster_summary(selectors.roster_for_session(s))) for s in todays]

        redis = get_redis_client()
        timings = {name: [] for name in ("view, after a change", "view, cache hit")}
        baseline = {name: [] for name in ("per-session rosters, after a change", "per-session rosters, cache hit")}
        keys = {"day list": [], "per-session rosters": []}
        unmarked = [p for p in sessions[0].group.members.all() if not p.attendance_records.exists()]
        view()
        per_session_rosters()
        with OtherCpu() as others:
            for _ in range(args.rounds):
                for label, call, series, counts in (
                    ("view", view, timings, keys["day list"]),
                    ("per-session rosters", per_session_rosters, baseline, keys["per-session rosters"]),
                ):
                    mark_manually(session=sessions[0], person=unmarked.pop(), status="present", by=staff)
                    before = redis.count_pattern("report:*")
                    start = time.perf_counter()
                    call()
                    series[f"{label}, after a change"].append((time.perf_counter() - start) * 1000)
                    counts.append(redis.count_pattern("report:*") - before)
                    start = time.perf_counter()
                    call()
                    series[f"{label}, cache hit"].append((time.perf_counter() - start) * 1000)

    print(f"430 sessions today, 43 classes of 30, {args.rounds} rounds; {load_before}; while timing: {others}\n")
    print("| what | runs | p50 ms | p95 ms | report keys written per change |\n| --- | ---: | ---: | ---: | ---: |")
    rows = [
        (name, times, keys["day list" if name.startswith("view") else "per-session rosters"])
        for name, times in {**timings, **baseline}.items()
    ]
    for name, times, written in rows:
        written_text = f"{statistics.mean(written):.0f}" if "after" in name else ""
        print(f"| {name} | {len(times)} | {pct(times, 50):.1f} | {pct(times, 95):.1f} | {written_text} |")
    ratio = pct(baseline["per-session rosters, after a change"], 50) / pct(timings["view, after a change"], 50)
    print(f"\nper-session rosters / day list, after a change, p50: {ratio:.1f}x")


if __name__ == "__main__":
    main()

"""The JSON API at /api/v1/: who may call what, people, groups, sessions, records and exports, ids of
either database's shape, errors as JSON (never a 500), throttles in Redis, and check-ins that answer as
the legacy /api/check-ins does. Real Redis, a real database, real photos."""

import csv
import io
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.devices import issue_token, register_device
from accounts.models import Role, User
from attendance.models import Group, Record, Session
from attendance.services import mark_manually
from tests.attendance.conftest import classroom, enrolled_people, lesson  # noqa: F401 - shared fixtures
from tests.conftest import missing_key, other_shape_key
from tests.faces import variants
from tests.factories import FaceSampleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

V1 = "/api/v1"
GARBAGE_IDS = ["abc", "1.5", "-1", "99999999999999999999", "0123456789abcdef0123456Z", "%20", "null", "[]"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(staff):
    return signed_in(staff)


@pytest.fixture
def group(db):
    return Group.objects.create(name="Class 5C", description="Fifth year")


def at(day: str, hour: int = 9):
    """A moment on ``day`` (YYYY-MM-DD) at ``hour`` in the organisation's time zone."""
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{hour:02d}:00"))


def session_on(group, day: str, hour: int = 9, title="Maths"):
    starts = at(day, hour)
    return Session.objects.create(group=group, title=title, starts_at=starts, ends_at=starts + timedelta(hours=1))


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) >= {"error", "detail"} and body["detail"]
    if code is not None:
        assert body["error"] == code
    return body


# Who may call what.

READS = ["/people", "/groups", "/sessions", "/records", "/exports/records?from=2026-01-01&to=2026-01-31"]


@pytest.mark.parametrize("path", [*READS, "/check-ins"])
def test_anonymous_callers_get_401_json_not_a_redirect(client, path):
    response = client.get(V1 + path) if path != "/check-ins" else client.post(V1 + path)
    body = assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "sign in" in body["detail"].lower() or "credentials" in body["detail"].lower()


@pytest.mark.parametrize("path", [*READS, "/check-ins"])
def test_members_get_403(member, path):
    client = signed_in(member)
    response = client.get(V1 + path) if path != "/check-ins" else client.post(V1 + path)
    assert_error(response, 403)


@pytest.mark.parametrize("path", READS)
def test_devices_may_only_check_in(kiosk, path):
    client = signed_in(kiosk)
    assert client.get(V1 + path).status_code == 403
    assert client.post(V1 + path, {}, content_type="application/json").status_code == 403


@pytest.mark.usefixtures("lesson")
def test_a_kiosk_reaches_the_check_in_endpoint(kiosk):
    response = signed_in(kiosk).post(f"{V1}/check-ins", {})
    assert_error(response, 400, "no_image")


@pytest.mark.usefixtures("lesson")
def test_a_device_token_reaches_check_ins_and_nothing_else(client):
    secret = issue_token(device=register_device(name="Front desk")).secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert_error(client.post(f"{V1}/check-ins", {}, **headers), 400, "no_image")
    assert client.get(f"{V1}/people", **headers).status_code == 403
    assert_error(client.get(f"{V1}/people", HTTP_AUTHORIZATION="Bearer atx_wrong"), 401)


@pytest.mark.parametrize("path", READS)
def test_staff_and_admins_read_everything(staff, user_factory, path):
    for user in (staff, user_factory(role=Role.ADMIN)):
        assert signed_in(user).get(V1 + path).status_code == 200


def test_nothing_can_be_deleted(staff_client, group, member):
    record = mark_manually(session=session_on(group, "2026-03-02"), person=member, status="present", by=None)
    for path in (f"/people/{member.pk}", f"/groups/{group.pk}", f"/records/{record.pk}"):
        assert_error(staff_client.delete(V1 + path), 405, "method_not_allowed")
    assert Group.objects.exists() and Record.objects.exists() and User.objects.filter(pk=member.pk).exists()


def test_records_are_read_only(staff_client, group, member):
    record = mark_manually(session=session_on(group, "2026-03-02"), person=member, status="present", by=None)
    assert_error(
        staff_client.patch(f"{V1}/records/{record.pk}", {"status": "late"}, content_type="application/json"), 405
    )
    assert_error(staff_client.post(f"{V1}/records", {}, content_type="application/json"), 405)


def test_session_auth_needs_the_csrf_token_for_writes(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(f"{V1}/groups", {"name": "No token"}, content_type="application/json")
    assert_error(response, 403)
    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    answer = client.post(
        f"{V1}/groups", {"name": "With token"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert answer.status_code == 201


# People.


def test_staff_create_a_person_who_is_a_member_without_a_password(staff_client, group):
    body = {
        "username": "ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": " Ada@Example.org ",
        "role": "admin",
    }
    body["groups"] = [str(group.pk)]
    response = staff_client.post(f"{V1}/people", body, content_type="application/json")
    assert response.status_code == 201, response.content
    person = User.objects.get(username="ada")
    assert person.role == Role.MEMBER and not person.has_usable_password() and person.email == "ada@example.org"
    assert response.json() == {
        "id": str(person.pk),
        "username": "ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "role": "member",
        "groups": [str(group.pk)],
        "is_enrolled": False,
    }
    assert list(group.members.all()) == [person]


def test_people_are_members_only_and_say_whether_they_are_enrolled(staff_client, staff, kiosk, member):
    FaceSampleFactory(person=member)
    other = UserFactory(role=Role.MEMBER)
    people = staff_client.get(f"{V1}/people").json()["results"]
    assert {p["id"] for p in people} == {str(member.pk), str(other.pk)}
    assert {p["id"]: p["is_enrolled"] for p in people} == {str(member.pk): True, str(other.pk): False}
    assert_error(staff_client.get(f"{V1}/people/{staff.pk}"), 404, "not_found")
    assert staff_client.get(f"{V1}/people/{member.pk}").json()["is_enrolled"] is True


def test_people_are_updated_by_patch_and_put(staff_client, member, group):
    url = f"{V1}/people/{member.pk}"
    answer = staff_client.patch(
        url, {"first_name": "Grace", "groups": [str(group.pk)]}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json()["first_name"] == "Grace"
    assert answer.json()["groups"] == [str(group.pk)]
    replaced = staff_client.put(url, {"username": "grace", "last_name": "Hopper"}, content_type="application/json")
    assert replaced.status_code == 200, replaced.content
    member.refresh_from_db()
    assert (member.username, member.last_name, member.role) == ("grace", "Hopper", Role.MEMBER)
    assert replaced.json()["groups"] == [str(group.pk)]  # not given: left as it was


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"username": "ok", "email": "not-an-email"}, "email"),
        ({"username": "ok", "groups": "notalist"}, "groups"),
        ({"username": "ok", "groups": ["abc"]}, "groups"),
        ({"username": "ok", "groups": [{"id": 1}]}, "groups"),
        ({"username": "ok", "first_name": "null\x00byte"}, "first_name"),
        ({"username": "ok", "first_name": ["a list"]}, "first_name"),
    ],
)
def test_invalid_people_are_400_json(staff_client, body, field):
    response = staff_client.post(f"{V1}/people", body, content_type="application/json")
    result = assert_error(response, 400, "invalid")
    assert field in result["fields"] and field in result["detail"]


def test_usernames_and_emails_stay_unique(staff_client, member):
    taken = staff_client.post(f"{V1}/people", {"username": member.username}, content_type="application/json")
    assert "username" in assert_error(taken, 400)["fields"]
    email = member.email.upper()
    again = staff_client.post(f"{V1}/people", {"username": "new", "email": email}, content_type="application/json")
    assert "email" in assert_error(again, 400)["fields"]


def test_unknown_groups_in_a_body_are_400(staff_client):
    response = staff_client.post(
        f"{V1}/people", {"username": "ok", "groups": [missing_key()]}, content_type="application/json"
    )
    assert "groups" in assert_error(response, 400)["fields"]
    response = staff_client.post(
        f"{V1}/people", {"username": "ok", "groups": [other_shape_key()]}, content_type="application/json"
    )
    assert "groups" in assert_error(response, 400)["fields"]


def test_bad_json_is_400_and_other_media_types_415(staff_client):
    assert_error(staff_client.post(f"{V1}/people", "{not json", content_type="application/json"), 400, "parse_error")
    assert_error(staff_client.post(f"{V1}/people", "a=b", content_type="text/plain"), 415, "unsupported_media_type")


# Groups.


def test_groups_crud_with_members(staff_client, member):
    created = staff_client.post(
        f"{V1}/groups", {"name": "Choir", "members": [str(member.pk)]}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Choir" and body["members"] == [str(member.pk)] and body["description"] == ""
    url = f"{V1}/groups/{body['id']}"
    read = staff_client.get(url).json()
    # MongoDB keeps milliseconds: the time read back may be shorter than the one answered on creation.
    assert read.pop("created_at")[:23] == body.pop("created_at")[:23] and read == body
    changed = staff_client.patch(url, {"members": [], "description": "Tuesdays"}, content_type="application/json")
    assert changed.json()["members"] == [] and changed.json()["description"] == "Tuesdays"
    replaced = staff_client.put(url, {"name": "Chamber choir"}, content_type="application/json")
    assert replaced.status_code == 200 and Group.objects.get().name == "Chamber choir"


def test_group_validation(staff_client, group, staff):
    assert "name" in assert_error(staff_client.post(f"{V1}/groups", {}, content_type="application/json"), 400)["fields"]
    taken = staff_client.post(f"{V1}/groups", {"name": group.name}, content_type="application/json")
    assert "name" in assert_error(taken, 400)["fields"]
    staff_member = staff_client.post(
        f"{V1}/groups", {"name": "X", "members": [str(staff.pk)]}, content_type="application/json"
    )
    assert "members" in assert_error(staff_member, 400)["fields"]


def test_groups_are_listed_by_name(staff_client):
    for name in ("b", "a", "c"):
        Group.objects.create(name=name)
    assert [g["name"] for g in staff_client.get(f"{V1}/groups").json()["results"]] == ["a", "b", "c"]


# Sessions.


def test_sessions_crud(staff_client, group):
    body = {
        "group": str(group.pk),
        "title": "Physics",
        "starts_at": "2026-03-02T09:00:00Z",
        "ends_at": "2026-03-02T10:00:00Z",
    }
    created = staff_client.post(f"{V1}/sessions", body, content_type="application/json")
    assert created.status_code == 201, created.content
    session = Session.objects.get()
    assert created.json() == {
        "id": str(session.pk),
        "group": str(group.pk),
        "title": "Physics",
        "starts_at": "2026-03-02T09:00:00Z",
        "ends_at": "2026-03-02T10:00:00Z",
        "late_after_minutes": 10,
        "location": "",
    }
    url = f"{V1}/sessions/{session.pk}"
    moved = staff_client.patch(url, {"location": "Lab 2", "late_after_minutes": 5}, content_type="application/json")
    assert moved.status_code == 200 and moved.json()["location"] == "Lab 2"
    session.refresh_from_db()
    assert session.late_after_minutes == 5
    too_early = staff_client.patch(url, {"ends_at": "2026-03-02T08:00:00Z"}, content_type="application/json")
    assert "ends_at" in assert_error(too_early, 400)["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"group": "abc"}, "group"),
        ({"group": None}, "group"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
        ({"starts_at": "9999-12-31T23:59:59-12:00"}, "starts_at"),
        ({"starts_at": "1900-01-01T00:00:00Z"}, "starts_at"),
        ({"late_after_minutes": -1}, "late_after_minutes"),
        ({"late_after_minutes": 10**20}, "late_after_minutes"),
        ({"title": ""}, "title"),
    ],
)
def test_invalid_sessions_are_400(staff_client, group, change, field):
    body = {
        "group": str(group.pk),
        "title": "Physics",
        "starts_at": "2026-03-02T09:00:00Z",
        "ends_at": "2026-03-02T10:00:00Z",
    }
    response = staff_client.post(f"{V1}/sessions", {**body, **change}, content_type="application/json")
    assert field in assert_error(response, 400, "invalid")["fields"]
    assert not Session.objects.exists()


def test_sessions_filtered_by_group_and_days(staff_client, group):
    other = Group.objects.create(name="Other")
    monday, tuesday, late_tuesday = (
        session_on(group, "2026-03-02"),
        session_on(group, "2026-03-03"),
        session_on(other, "2026-03-03", 23),
    )

    def ids(query):
        response = staff_client.get(f"{V1}/sessions?{query}")
        assert response.status_code == 200, response.content
        return [s["id"] for s in response.json()["results"]]

    assert ids("") == [str(late_tuesday.pk), str(tuesday.pk), str(monday.pk)]  # latest first
    assert ids(f"group={group.pk}") == [str(tuesday.pk), str(monday.pk)]
    assert ids("from=2026-03-03") == [str(late_tuesday.pk), str(tuesday.pk)]
    assert ids("to=2026-03-02") == [str(monday.pk)]
    assert ids("from=2026-03-03&to=2026-03-03&group=" + str(other.pk)) == [str(late_tuesday.pk)]


def test_session_days_are_the_organisations(staff_client, group, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    timezone.activate("Pacific/Auckland")
    try:
        # 08:00 on 3 March in Auckland is 19:00 on 2 March in UTC.
        session = session_on(group, "2026-03-03", 8)
        assert session.starts_at.astimezone(UTC).day == 2
        found = staff_client.get(f"{V1}/sessions?from=2026-03-03&to=2026-03-03").json()["results"]
        assert [s["id"] for s in found] == [str(session.pk)]
        assert staff_client.get(f"{V1}/sessions?to=2026-03-02").json()["results"] == []
    finally:
        timezone.deactivate()


# Records.


@pytest.fixture
def marked(group):
    """Three people in a group, marked in two sessions on two days; one person marked late."""
    ada, bob, cy = (UserFactory(role=Role.MEMBER, last_name=name) for name in ("Ada", "Bob", "Cy"))
    group.members.set([ada, bob, cy])
    monday, tuesday = session_on(group, "2026-03-02"), session_on(group, "2026-03-03")
    other = session_on(Group.objects.create(name="Other"), "2026-03-03", 14)
    records = {
        "monday_ada": mark_manually(session=monday, person=ada, status="present", by=None),
        "monday_bob": mark_manually(session=monday, person=bob, status="late", by=None),
        "tuesday_cy": mark_manually(session=tuesday, person=cy, status="excused", by=None),
        "other_ada": mark_manually(session=other, person=ada, status="present", by=None),
    }
    return {"people": {"ada": ada, "bob": bob, "cy": cy}, "records": records, "other": other.group}


def record_ids(client, query=""):
    response = client.get(f"{V1}/records?{query}")
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def test_records_in_session_order_with_their_fields(staff_client, marked, group):
    records = marked["records"]
    assert record_ids(staff_client) == [
        str(records[name].pk) for name in ("monday_ada", "monday_bob", "tuesday_cy", "other_ada")
    ]
    first = staff_client.get(f"{V1}/records/{records['monday_bob'].pk}").json()
    assert first["status"] == "late" and first["group"] == str(group.pk) and first["method"] == "manual"
    assert first["person"] == str(marked["people"]["bob"].pk) and first["device"] is None
    listed = staff_client.get(f"{V1}/records").json()["results"]
    assert [r["group"] for r in listed] == [str(group.pk)] * 3 + [str(marked["other"].pk)]
    assert listed[1] == first
    assert set(first) == {
        "id",
        "session",
        "group",
        "person",
        "status",
        "marked_at",
        "checked_out_at",
        "worked_minutes",
        "method",
        "marked_by",
        "device",
        "reason",
        "note",
        "edited_at",
    }


def test_records_filtered_by_days_group_person_and_status(staff_client, marked, group):
    records, people = marked["records"], marked["people"]

    def named(*names):
        return [str(records[name].pk) for name in names]

    assert record_ids(staff_client, "from=2026-03-03") == named("tuesday_cy", "other_ada")
    assert record_ids(staff_client, "to=2026-03-02") == named("monday_ada", "monday_bob")
    assert record_ids(staff_client, "from=2026-03-02&to=2026-03-02") == named("monday_ada", "monday_bob")
    assert record_ids(staff_client, f"group={group.pk}") == named("monday_ada", "monday_bob", "tuesday_cy")
    assert record_ids(staff_client, f"person={people['ada'].pk}") == named("monday_ada", "other_ada")
    assert record_ids(staff_client, "status=late") == named("monday_bob")
    assert record_ids(staff_client, f"status=present&group={marked['other'].pk}") == named("other_ada")
    assert record_ids(staff_client, "from=2027-01-01") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("from=2026-02-30", "from"),
        ("to=1999-12-31", "to"),
        ("from=2026-03-03&to=2026-03-02", "to"),
        ("status=gone", "status"),
        ("group=abc", "group"),
        ("person=1.5", "person"),
        ("group=99999999999999999999", "group"),
    ],
)
def test_invalid_record_filters_are_400(staff_client, marked, query, field):
    assert field in assert_error(staff_client.get(f"{V1}/records?{query}"), 400, "invalid")["fields"]


def test_unknown_ids_in_filters_are_400(staff_client, marked):
    for key in (missing_key(), other_shape_key()):
        for name in ("group", "person"):
            assert name in assert_error(staff_client.get(f"{V1}/records?{name}={key}"), 400)["fields"]
        assert "group" in assert_error(staff_client.get(f"{V1}/sessions?group={key}"), 400)["fields"]


# Pages.


def test_lists_are_paginated_with_a_bounded_page_size(staff_client):
    for number in range(5):
        Group.objects.create(name=f"group {number}")
    page = staff_client.get(f"{V1}/groups?page_size=2&page=2").json()
    assert page["count"] == 5 and [g["name"] for g in page["results"]] == ["group 2", "group 3"]
    assert page["next"].endswith("page=3&page_size=2") and "page_size=2" in page["previous"]
    assert staff_client.get(f"{V1}/groups?page_size=2&page=3").json()["next"] is None
    assert len(staff_client.get(f"{V1}/groups").json()["results"]) == 5
    for _ in range(200):
        Group.objects.create(name=f"more {_:03d}")
    assert len(staff_client.get(f"{V1}/groups?page_size=1000").json()["results"]) == 200
    assert_error(staff_client.get(f"{V1}/groups?page=99"), 404, "not_found")
    assert_error(staff_client.get(f"{V1}/groups?page=abc"), 404, "not_found")


# Ids in URLs.


@pytest.mark.parametrize("resource", ["people", "groups", "sessions", "records"])
def test_garbage_ids_in_urls_are_404_json(staff_client, resource):
    for key in [*GARBAGE_IDS, missing_key(), other_shape_key()]:
        assert_error(staff_client.get(f"{V1}/{resource}/{key}"), 404, "not_found")
        if resource != "records":
            assert_error(staff_client.patch(f"{V1}/{resource}/{key}", {}, content_type="application/json"), 404)


def test_garbage_everywhere_in_bodies_and_filters_is_never_a_500(staff_client, group, member, api_rate):
    api_rate("100000/m")
    session = session_on(group, "2026-03-02")
    values = [None, True, 3.5, -1, 10**30, "", "\x00", "\ud800", "x" * 10_000, [], {}, [None], {"a": 1}, *GARBAGE_IDS]
    fields = {
        "people": ["username", "first_name", "last_name", "email", "groups"],
        "groups": ["name", "description", "members"],
        "sessions": ["group", "title", "starts_at", "ends_at", "late_after_minutes", "location"],
    }
    objects = {"people": member, "groups": group, "sessions": session}
    for resource, names in fields.items():
        for name in names:
            for value in values:
                for method, url in (("post", f"{V1}/{resource}"), ("patch", f"{V1}/{resource}/{objects[resource].pk}")):
                    response = getattr(staff_client, method)(url, {name: value}, content_type="application/json")
                    assert response.status_code < 500, (resource, name, value, response.content[:300])
    for query in ("from", "to", "group", "person", "status", "page", "page_size"):
        for value in ["abc", "", "\x00", "-1", "0", "10" * 20, "2026-13-01", "9999-12-31", "0001-01-01"]:
            for path in ("/records", "/sessions", "/exports/records"):
                response = staff_client.get(f"{V1}{path}", {query: value})
                assert response.status_code < 500, (path, query, value)


# Exports.


def test_records_export_as_csv(staff_client, marked, group):
    response = staff_client.get(f"{V1}/exports/records?from=2026-03-02&to=2026-03-03&group={group.pk}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="attendance-2026-03-02-to-2026-03-03.csv"' in response["Content-Disposition"]
    header = response.content.decode().splitlines()[0]
    assert header == (
        "session,group,starts_at,username,name,status,marked_at,method,marked_by,arrived_at,left_at,"
        "worked_minutes,reason,note,edited_at"
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [(row[0], row[2], row[5]) for row in rows[1:]] == [
        ("Maths", "2026-03-02 09:00", "present"),
        ("Maths", "2026-03-02 09:00", "late"),
        ("Maths", "2026-03-03 09:00", "excused"),
    ]
    by_group = staff_client.get(f"{V1}/exports/records?group={marked['other'].pk}", HTTP_ACCEPT="text/csv")
    assert by_group.status_code == 200 and len(list(csv.reader(io.StringIO(by_group.content.decode())))) == 2


def test_export_cells_cannot_run_as_formulas(staff_client, group):
    person = UserFactory(role=Role.MEMBER, first_name="=HYPERLINK(1)", last_name="")
    mark_manually(session=session_on(group, "2026-03-02"), person=person, status="present", by=None)
    rows = list(csv.reader(io.StringIO(staff_client.get(f"{V1}/exports/records?group={group.pk}").content.decode())))
    assert rows[1][4] == "'=HYPERLINK(1)"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "from=2026-03-02",
        "from=2026-03-03&to=2026-03-02",
        "from=2024-01-01&to=2026-01-01",
        "group=abc",
        f"group={'f' * 24}",
    ],
)
def test_export_refusals_are_400_json_even_when_csv_is_asked_for(staff_client, query):
    assert_error(staff_client.get(f"{V1}/exports/records?{query}", HTTP_ACCEPT="text/csv"), 400, "invalid")


# Throttles.


@pytest.fixture
def api_rate(settings):
    def set_rate(rate: str):
        rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": rate}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rate


def test_over_the_rate_is_429_json_with_retry_after(staff_client, staff, api_rate, shared_redis):
    api_rate("3/m")
    assert [staff_client.get(f"{V1}/groups").status_code for _ in range(3)] == [200] * 3
    response = staff_client.get(f"{V1}/people")
    body = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60 and body["retry_after"] == int(response["Retry-After"])
    assert any(b"throttle:api:user:" + str(staff.pk).encode() in key for key in shared_redis.keys("*"))
    # Counted per account: another staff member is not limited.
    assert signed_in(UserFactory(role=Role.STAFF)).get(f"{V1}/groups").status_code == 200


def test_anonymous_callers_are_counted_by_address_where_they_may_call(client, api_rate):
    api_rate("2/m")
    assert [client.get("/api/schema/?format=json").status_code for _ in range(3)] == [200, 200, 429]
    # Elsewhere they are refused before anything is counted.
    assert [client.get(f"{V1}/groups").status_code for _ in range(3)] == [401, 401, 401]


def test_with_redis_down_the_throttle_lets_requests_through(staff_client, api_rate, redis_refused, caplog):
    api_rate("2/m")
    with caplog.at_level(logging.WARNING, logger="attendx.cache"):
        assert [staff_client.get(f"{V1}/groups").status_code for _ in range(5)] == [200] * 5
    warnings = [r for r in caplog.records if "Running without Redis caching" in r.getMessage()]
    assert len(warnings) == 1


def test_with_redis_stopped_mid_way_requests_still_answer(redis_server, api_rate):
    api_rate("3/m")
    client = signed_in(UserFactory(role=Role.STAFF))
    assert client.get(f"{V1}/groups").status_code == 200
    redis_server.stop()
    assert [client.get(f"{V1}/groups").status_code for _ in range(5)] == [200] * 5


# Check-ins: the same answers as the legacy URL.


def check_in(client, url, data, *, key=None, session=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    payload = {
        "image": [SimpleUploadedFile("frame.jpg", frame, content_type="image/jpeg") for frame in variants.burst(data)]
    }
    if session is not None:
        payload["session"] = str(session)
    return client.post(url, payload, **headers)


def comparable(body: dict) -> dict:
    """An answer without what differs between two check-ins of the same face: ids and times."""
    faces = []
    for face in body["faces"]:
        face = {**face, "person": face["person"] and face["person"]["name"]}
        if "record" in face:
            face["record"] = {k: v for k, v in face["record"].items() if k in ("status", "method")}
        face["message"] = face["message"].split(" at ")[0]
        faces.append(face)
    return {**body, "faces": faces, "message": body["message"].split(" at ")[0]}


@pytest.mark.usefixtures("classroom")
def test_v1_check_ins_answer_as_the_legacy_url(shared_photos):
    answers = {}
    for url in ("/api/check-ins", f"{V1}/check-ins"):
        Record.objects.all().delete()
        client = signed_in(UserFactory(role=Role.KIOSK))  # a device of its own: agreement is per device
        marked = check_in(client, url, shared_photos["angelina_jolie/05.jpg"].data)
        already = check_in(client, url, shared_photos["angelina_jolie/02.jpg"].data)
        stranger = check_in(client, url, shared_photos["steve_carell/01.jpg"].data)
        answers[url] = [(r.status_code, comparable(r.json())) for r in (marked, already, stranger)]
    legacy, v1 = answers.values()
    assert v1 == legacy
    assert [status for status, _ in v1] == [201, 200, 200]
    assert v1[0][1]["faces"][0]["result"] == "checked_in" and v1[1][1]["faces"][0]["result"] == "already_checked_in"
    assert Record.objects.get().person.username == "angelina_jolie"


@pytest.mark.usefixtures("classroom")
def test_v1_check_in_refusals_answer_as_the_legacy_url(kiosk, staff, shared_photos):
    client = signed_in(kiosk)
    photo = shared_photos["barack_obama/02.jpg"].data
    for url in ("/api/check-ins", f"{V1}/check-ins"):
        assert_error(client.post(url, {}), 400, "no_image")
        assert_error(check_in(client, url, photo, session="abc"), 400, "bad_session")
        assert_error(check_in(client, url, photo, session=missing_key()), 404, "no_such_session")
        assert_error(check_in(client, url, photo, key="bad key!"), 400, "bad_idempotency_key")
        too_many = {"image": [SimpleUploadedFile(f"{n}.jpg", photo, content_type="image/jpeg") for n in range(7)]}
        assert_error(client.post(url, too_many), 400, "too_many_frames")
        not_an_image = {"image": SimpleUploadedFile("x.jpg", b"<svg></svg>", content_type="image/jpeg")}
        assert client.post(url, not_an_image).status_code == 400
    assert_error(signed_in(kiosk).get(f"{V1}/check-ins"), 405, "method_not_allowed")
    assert not Record.objects.exists()


@pytest.mark.usefixtures("classroom")
def test_v1_check_in_replays_an_idempotency_key(kiosk, shared_photos):
    client = signed_in(kiosk)
    first = check_in(client, f"{V1}/check-ins", shared_photos["joe_biden/02.jpg"].data, key="retry-1")
    again = check_in(client, f"{V1}/check-ins", shared_photos["steve_carell/01.jpg"].data, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Record.objects.count() == 1


@pytest.mark.usefixtures("classroom")
def test_staff_may_check_in_and_members_may_not(staff, member, shared_photos):
    assert check_in(signed_in(staff), f"{V1}/check-ins", shared_photos["amy_adams/01.jpg"].data).status_code == 201
    assert_error(check_in(signed_in(member), f"{V1}/check-ins", shared_photos["amy_adams/01.jpg"].data), 403)


@pytest.mark.usefixtures("lesson")
def test_v1_check_ins_share_the_devices_rate_limit_with_the_legacy_url(kiosk, settings):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_IN_RATE": "3/m"}
    client = signed_in(kiosk)
    statuses = [client.post(url, {}).status_code for url in ("/api/check-ins", f"{V1}/check-ins") * 2]
    assert statuses == [400, 400, 400, 429]
    response = client.post(f"{V1}/check-ins", {})
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


@pytest.mark.usefixtures("lesson")
def test_v1_check_ins_count_per_process_with_redis_down(kiosk, settings, redis_refused):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_IN_RATE": "2/m"}
    client = signed_in(kiosk)
    assert [client.post(f"{V1}/check-ins", {}).status_code for _ in range(3)] == [400, 400, 429]


@pytest.mark.usefixtures("lesson")
def test_v1_check_in_bodies_over_the_limit_are_refused_by_their_length(kiosk):
    client = signed_in(kiosk)
    limit = settings.FACES["MAX_UPLOAD_BYTES"] + settings.REQUEST_BODY_OVERHEAD_BYTES
    response = client.generic(
        "POST", f"{V1}/check-ins", b"", CONTENT_TYPE="multipart/form-data; boundary=x", CONTENT_LENGTH=str(limit + 1)
    )
    assert_error(response, 413, "too_large")
    # Another endpoint has the default page limit.
    staff_answer = signed_in(UserFactory(role=Role.STAFF)).generic(
        "POST",
        f"{V1}/groups",
        b"",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(settings.REQUEST_BODY_MAX_BYTES + 1),
    )
    assert_error(staff_answer, 413, "too_large")


# The schema and its pages.


def test_the_schema_is_served_as_yaml_and_json(client):
    as_json = client.get("/api/schema/?format=json")
    assert as_json.status_code == 200
    schema = as_json.json()
    assert schema["openapi"].startswith("3.") and "/api/v1/check-ins" in schema["paths"]
    check_in_op = schema["paths"]["/api/v1/check-ins"]["post"]
    form = check_in_op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    image = schema["components"]["schemas"][form]["properties"]["image"]
    assert image["type"] == "array" and image["items"]["format"] == "binary"
    assert {p["name"] for p in check_in_op["parameters"]} >= {"Idempotency-Key"}
    assert set(check_in_op["responses"]) >= {
        "200",
        "201",
        "400",
        "401",
        "403",
        "404",
        "409",
        "411",
        "413",
        "429",
        "503",
    }
    assert not any(method == "delete" for path in schema["paths"].values() for method in path)
    yaml = client.get("/api/schema/")
    assert yaml.status_code == 200 and yaml.content.startswith(b"openapi: 3")


def test_the_docs_page_and_its_assets_come_from_our_static_files(staff_client):
    page = staff_client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    asset = staff_client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert staff_client.get("/api/redoc/").status_code == 200


def test_the_schema_validates_without_warnings():
    command = [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null"]
    result = subprocess.run(command, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

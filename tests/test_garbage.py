"""Garbage into every route, every query string and every field of every form: never a 5xx.

The walker finds the pages itself: every route of the URLconf (path parameters filled with real keys,
keys that name nothing and keys of the wrong shape), every link and form in the HTML it gets back, and
every field of the project's form classes (sent along with each form, and to each route). A new route,
form or field is covered without touching this file.
"""

import importlib
import importlib.util
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django import forms
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from attendance.models import Camera, CheckInRequest, Group, PendingCheckIn, Record, RecordChange
from attendance.services import mark_manually
from faces.models import FaceJob
from tests.attendance.conftest import make_session
from tests.conftest import missing_key, other_shape_key
from tests.factories import FaceSampleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

OUR_APPS = ("accounts", "attendance", "attendx", "faces")
# Signing out ends the walk; nothing else is skipped.
SKIPPED_ROUTE_NAMES = {"logout"}

TEXT_GARBAGE = [
    "",
    "abc",
    "1.5",
    "-1",
    "99999999999999999999",
    "0123456789abcdef01234567",
    "9999-12-31",
    "0001-01-01",
    "x" * 10_000,
    "ünïcødé 🙂 \u202e",
    "nul\x00byte",
    "' OR 1=1 --",
]
PATH_GARBAGE = ["abc", "1.5", "-1", "99999999999999999999", "x" * 300]
# The admin has many pages and many fields: less garbage per page there, to keep the walk short.
ADMIN_GARBAGE = ["abc", "99999999999999999999", "9999-12-31", "x" * 10_000]


def file_garbage() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile("frame.jpg", b"not an image at all", content_type="image/jpeg"),
        SimpleUploadedFile("empty.png", b"", content_type="image/png"),
        SimpleUploadedFile("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml"),
        SimpleUploadedFile("é" * 200 + ".webp", b"RIFF\x00\x00\x00\x00WEBP", content_type="image/webp"),
    ]


def not_an_image() -> SimpleUploadedFile:
    return SimpleUploadedFile("frame.jpg", b"not an image at all", content_type="image/jpeg")


# The project's own form classes: their fields are sent to every route, as a tampering client would.


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def project_fields() -> tuple[set[str], set[str]]:
    """(names of text fields, names of file fields) of every form class in our apps."""
    for app in OUR_APPS:
        if importlib.util.find_spec(f"{app}.forms"):
            importlib.import_module(f"{app}.forms")  # its classes become subclasses of BaseForm
    text, files = set(), set()
    for form_class in _subclasses(forms.BaseForm):
        if form_class.__module__.split(".")[0] not in OUR_APPS:
            continue
        for name, form_field in getattr(form_class, "base_fields", {}).items():
            (files if isinstance(form_field, forms.FileField) else text).add(name)
    return text, files


# Routes: every URL pattern, its parameters filled with candidate values.

ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
REGEX_PARAMETER = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    template: str  # "attendance/sessions/{session_id}/"
    name: str | None
    callback: object

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    @property
    def is_admin(self) -> bool:
        return self.template.startswith("admin/")

    def fill(self, value: str) -> str | None:
        """The path with every parameter set to ``value``, if it resolves to this route."""
        path = "/" + self.template.format(**dict.fromkeys(self.parameters, value))
        try:
            match = resolve(path)
        except Resolver404:
            return None
        return path if (match.func, match.url_name) == (self.callback, self.name) else None


def _as_template(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return ROUTE_PARAMETER.sub(r"{\1}", str(pattern))
    text = REGEX_PARAMETER.sub(r"{\1}", pattern.regex.pattern)
    return text.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")


def routes(patterns=None, prefix="") -> list[Route]:
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found += routes(entry.url_patterns, prefix + _as_template(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(Route(prefix + _as_template(entry.pattern), entry.name, entry.callback))
    return found


# Pages: the links and forms in the HTML a route answers.


@dataclass
class FoundForm:
    method: str
    action: str
    fields: dict = field(default_factory=dict)  # name -> default value
    files: set = field(default_factory=set)
    selects: dict = field(default_factory=dict)  # name -> its first option, until one is selected


class PageParser(HTMLParser):
    def __init__(self, path: str):
        super().__init__(convert_charrefs=True)
        self.path, self.links, self.forms = path, set(), []
        self._form, self._select, self._textarea = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        for attribute in ("href", "src"):
            if attrs.get(attribute):
                self.links.add(urljoin("http://testserver" + self.path, attrs[attribute]))
        if tag == "form":
            action = urljoin("http://testserver" + self.path, attrs.get("action") or self.path)
            self._form = FoundForm(method=(attrs.get("method") or "get").lower(), action=action)
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "option" and self._select:
            if "selected" in attrs or self._select not in self._form.selects:
                self._form.selects[self._select] = self._form.fields[self._select] = attrs.get("value", "")
            return
        if not attrs.get("name"):
            return
        name, kind = attrs["name"], attrs.get("type", "text").lower()
        if tag == "input" and kind == "file":
            self._form.files.add(name)
        elif tag == "input" and kind in ("checkbox", "radio"):
            if "checked" in attrs or name not in self._form.fields:
                self._form.fields[name] = attrs.get("value", "on")
        elif tag in ("input", "button"):
            self._form.fields.setdefault(name, attrs.get("value", ""))
        elif tag == "select":
            self._select = name
            self._form.fields.setdefault(name, "")
        elif tag == "textarea":
            self._textarea = name
            self._form.fields[name] = ""

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


# The world the walker finds: one of everything, with a file on disk wherever a row names one.


@dataclass
class World:
    users: dict
    keys: list[str]


def build_world() -> World:
    users = {role: UserFactory(role=role) for role in ("admin", "staff", "member", "kiosk")}
    person = UserFactory(role="member", first_name="Ada")
    group = Group.objects.create(name="Class 7B")
    group.members.set([person, users["member"]])
    running = make_session(group, title="Maths")
    ended = make_session(group, started_minutes_ago=3 * 24 * 60, title="History")
    mark_manually(session=ended, person=person, status="late", by=users["staff"])
    pending = PendingCheckIn(
        session=running,
        candidate=person,
        distance=0.08,
        box=[0, 0, 10, 10],
        device=users["kiosk"],
        expires_at=timezone.now() + timedelta(hours=1),
    )
    pending.frame.save("frame.jpg", ContentFile(b"a frame"), save=False)
    pending.save()
    samples = [FaceSampleFactory(person=users["member"]), FaceSampleFactory(person=person)]
    request = CheckInRequest.objects.create(device=users["kiosk"], key="k-1", status_code=201, response={})
    camera = Camera.objects.create(name="entrance", location="Room 7")
    job = FaceJob.objects.create(kind="enroll", total=1, position=1, state="done", outcomes=[["ada/1.jpg", "enrolled"]])
    objects = [*users.values(), person, group, running, ended, pending, *samples, request, camera, job]
    objects += [Record.objects.get(), RecordChange.objects.get()]
    return World(users=users, keys=sorted({str(obj.pk) for obj in objects}))


# The walk.


@dataclass
class Walker:
    client: Client
    role: str
    admin: bool  # walk the admin of our apps, or everything else
    text_fields: set
    file_fields: set
    failures: list = field(default_factory=list)
    seen_paths: set = field(default_factory=set)
    seen_forms: set = field(default_factory=set)
    seen_pages: set = field(default_factory=set)
    routes_sent: set = field(default_factory=set)
    queue: deque = field(default_factory=deque)
    requests: int = 0

    def send(self, method: str, path: str, data=None):
        self.requests += 1
        self.routes_sent.add(_route_of(path))
        try:
            response = getattr(self.client, method)(path, data or {})
        except Exception as error:  # noqa: BLE001 - reported with the request that raised it
            self.failures.append(f"{self.role} {method.upper()} {path} {_short(data)}: raised {error!r:.300}")
            return None
        if response.status_code >= 500:
            self.failures.append(f"{self.role} {method.upper()} {path} {_short(data)}: {response.status_code}")
        if getattr(response, "streaming", False):
            response.close()
        return response

    def in_scope(self, path: str) -> bool:
        if path.startswith("/static/"):
            return False
        try:
            match = resolve(path)
        except Resolver404:
            return True  # a 404 is an answer too
        if match.url_name in SKIPPED_ROUTE_NAMES:
            return False
        if not path.startswith("/admin/"):
            return not self.admin
        # The admin's own pages and those of our models; Django's and axes' models stay out.
        section = path.split("/")[2]
        return self.admin and (section in OUR_APPS or section not in {app.label for app in apps.get_app_configs()})

    def visit(self, path: str):
        """GET a page; then garbage in its query string and its forms; then the pages it links to."""
        response = self.send("get", path)
        if response is None or response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            return
        page = PageParser(path)
        page.feed(response.content.decode(errors="replace"))
        kind = _route_of(path)
        if kind not in self.seen_pages:  # a view reads its query string the same way for every object
            self.seen_pages.add(kind)
            query_names = self.text_fields | {"page", "q", "p", "o"}
            query_names |= {name for form in page.forms if form.method == "get" for name in form.fields}
            for value in ADMIN_GARBAGE if self.admin else TEXT_GARBAGE:
                self.send("get", path, dict.fromkeys(query_names, value))
        for form in page.forms:
            self.submit(form)
        for link in sorted(page.links):
            parts = urlsplit(link)
            if parts.netloc == "testserver":
                self.enqueue(parts.path)

    def enqueue(self, path: str):
        if path not in self.seen_paths and self.in_scope(path):
            self.seen_paths.add(path)
            self.queue.append(path)

    def submit(self, form: FoundForm):
        """Each field of the form in turn set to garbage (but in the admin); then every field at once, with
        every field of the project's forms."""
        path = urlsplit(form.action).path
        if not self.in_scope(path):
            return
        kind = (form.method, _route_of(path))
        if kind in self.seen_forms:
            return
        self.seen_forms.add(kind)
        method = "post" if form.method == "post" else "get"
        names = sorted(name for name in form.fields if name != "csrfmiddlewaretoken")

        def defaults():
            data = dict(form.fields)
            data.update({name: not_an_image() for name in form.files} if method == "post" else {})
            return data

        for name in names if not self.admin else []:
            for value in TEXT_GARBAGE:
                self.send(method, path, {**defaults(), name: value})
        for name in sorted(form.files) if method == "post" else []:
            for upload in file_garbage():
                self.send(method, path, {**defaults(), name: upload})
        typed = [name for name in names if name not in form.selects]
        extras = self.text_fields - set(names)
        # Every field typed in at once, the choices left as they are (a date range, say) ...
        for value in ADMIN_GARBAGE if self.admin else TEXT_GARBAGE:
            self.send(method, path, {**defaults(), **dict.fromkeys(typed, value)})
        # ... and every field at once, with every field of every project form.
        for value in TEXT_GARBAGE:
            self.send(method, path, {**defaults(), **dict.fromkeys(names, value), **dict.fromkeys(extras, value)})

    def bag(self, value: str) -> dict:
        """Every field of every project form set to ``value``, with a non-image for each file field."""
        return {**dict.fromkeys(self.text_fields, value), **{name: not_an_image() for name in self.file_fields}}

    def walk(self, world: World):
        if self.admin:
            values = [missing_key(), other_shape_key(), *ADMIN_GARBAGE[:2], *OUR_APPS]
        else:
            values = [*world.keys, missing_key(), other_shape_key(), *PATH_GARBAGE]
        first_paths = []
        for route in routes():
            if route.is_admin != self.admin or route.name in SKIPPED_ROUTE_NAMES:
                continue
            paths = [p for value in values if (p := route.fill(value))] if route.parameters else ["/" + route.template]
            for path in paths:
                self.enqueue(path)
            first_paths += paths[:1]
        while self.queue:
            self.visit(self.queue.popleft())
        # POST-only views and the API have no form on any page: every project field goes to each route
        # (last, as this approves reviews and deletes photos the pages above show).
        for path in first_paths if not self.admin else []:
            for value in TEXT_GARBAGE:
                self.send("post", path, self.bag(value))


def client_for(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


@pytest.fixture
def generous_limits(settings):
    """Rate limits far above the walk's pace: a 429 would hide the view behind it."""
    settings.ATTENDANCE = {**settings.ATTENDANCE, "CHECK_IN_RATE": "100000/m"}
    settings.FACES = {**settings.FACES, "ENROLL_RATE": "100000/h", "STAFF_ENROLL_RATE": "100000/h"}


@pytest.mark.parametrize("role", ["anonymous", "member", "kiosk", "staff", "admin"])
def test_no_page_answers_garbage_with_a_5xx(role, generous_limits):
    world = build_world()
    text_fields, file_fields = project_fields()
    walker = Walker(client_for(world, role), role, admin=False, text_fields=text_fields, file_fields=file_fields)
    walker.walk(world)
    assert not walker.failures, f"{len(walker.failures)} answers of 5xx:\n" + "\n".join(walker.failures[:50])
    ours = [route for route in routes() if not route.is_admin and route.name not in SKIPPED_ROUTE_NAMES]
    missed = [route.template for route in ours if (route.callback, route.name) not in walker.routes_sent]
    assert not missed, f"routes the walker never reached: {missed}"


def test_no_admin_page_of_ours_answers_garbage_with_a_5xx(generous_limits):
    world = build_world()
    text_fields, file_fields = project_fields()
    walker = Walker(client_for(world, "admin"), "admin", admin=True, text_fields=text_fields, file_fields=file_fields)
    walker.walk(world)
    assert not walker.failures, f"{len(walker.failures)} answers of 5xx:\n" + "\n".join(walker.failures[:50])
    for page in ("/admin/attendance/session/", "/admin/faces/facesample/", "/admin/accounts/user/"):
        assert page in walker.seen_paths


def _route_of(path: str):
    try:
        match = resolve(path)
    except Resolver404:
        return path
    return (match.func, match.url_name)


def _short(data) -> str:
    if not data:
        return ""
    shown = {
        name: (repr(value)[:40] if not hasattr(value, "read") else value.name[:20]) for name, value in data.items()
    }
    return str(shown)[:400]

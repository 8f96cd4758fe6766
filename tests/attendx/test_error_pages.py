"""Error pages people see (400, 403, 404, 500), the JSON the API answers instead, and /favicon.ico."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.template import loader
from django.test import Client
from django.urls import path

from attendx.urls import handler400, handler403, handler404, handler500  # noqa: F401 - this module's URLconf
from attendx.urls import urlpatterns as project_urlpatterns
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def broken(request):
    raise RuntimeError("a bug")


def forbidden(request):
    raise PermissionDenied


def missing(request):
    raise Http404("No such thing.")


def suspicious(request):
    raise SuspiciousOperation("odd")


urlpatterns = [
    *project_urlpatterns,
    path("test/broken", broken),
    path("test/forbidden", forbidden),
    path("test/missing", missing),
    path("test/suspicious", suspicious),
    path("api/test/broken", broken),
    path("api/test/forbidden", forbidden),
]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(role="staff", first_name="Grace", last_name="Hopper"))
    return client


def assert_styled(response, status: int, title: str):
    page = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in page
    assert "/static/css/app.css" in page and 'href="/"' in page  # the stylesheet, and a way home
    return page


def test_404_is_a_styled_page_for_signed_in_staff(staff_client):
    page = assert_styled(staff_client.get("/attendance/sessions/999999/"), 404, "Page not found")
    assert "Grace Hopper" in page  # base.html: the staff member's own menu
    assert_styled(staff_client.get("/no/such/page/"), 404, "Page not found")
    assert_styled(staff_client.get("/test/missing"), 404, "Page not found")


def test_403_is_a_styled_page(staff_client, client):
    assert_styled(staff_client.get("/test/forbidden"), 403, "Not allowed")
    client.force_login(UserFactory(role="member"))
    assert_styled(client.get("/attendance/"), 403, "Not allowed")  # staff only


def test_400_is_a_styled_page(staff_client):
    assert_styled(staff_client.get("/test/suspicious"), 400, "Bad request")
    # Even when the request itself is refused before any view: a Host that is not allowed.
    assert_styled(Client().get("/", HTTP_HOST="attacker.example"), 400, "Bad request")


def test_500_is_a_styled_page_with_debug_off(staff_client, settings):
    settings.DEBUG = False
    staff_client.raise_request_exception = False
    page = assert_styled(staff_client.get("/test/broken"), 500, "Something went wrong")
    assert "Grace Hopper" not in page and "a bug" not in page  # no request context, no details


def test_500_renders_without_any_context():
    assert "Something went wrong" in loader.get_template("500.html").render()


def test_api_errors_stay_json(staff_client, client):
    staff_client.raise_request_exception = False
    assert staff_client.get("/api/v1/nothing").json() == {"error": "not_found", "detail": "Not found."}
    assert staff_client.get("/api/v1/groups/999999").json() == {"error": "not_found", "detail": "Not found."}
    answer = staff_client.get("/api/test/broken")
    assert answer.status_code == 500 and answer.json()["error"] == "server_error"
    answer = staff_client.get("/api/test/forbidden")
    assert answer.status_code == 403 and answer.json()["error"] == "permission_denied"
    client.force_login(UserFactory(role="member"))
    answer = client.post("/api/check-ins")  # members do not check people in
    assert answer.status_code == 403 and answer.json()["error"] == "permission_denied"
    # A JSON client of a page gets JSON too.
    answer = client.get("/no/such/page/", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


def test_favicon_ico_is_reachable_signed_out(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg")

"""Contract tests of /api/v1/ against its own OpenAPI schema, on a live server: schemathesis generates
requests from /api/schema/ for every operation (check-ins excepted: each runs face recognition) and
checks that none is answered 5xx and every answer conforms to the schema. Signed in as staff."""

import time
from collections import Counter

import pytest
import requests
import schemathesis
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Role
from attendance.models import Group
from attendance.services import mark_manually
from tests.attendance.conftest import make_session
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 15
# No 5xx, and answers as documented. Not positive_data_acceptance: a schema cannot say that an export
# needs a group or a range of days, or that days end in 2099, so some schema-valid requests are 400s.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Check-ins run face recognition (tests/attendx/test_api.py covers them); devices/ is another API's.
EXCLUDED = r"^/api/v1/(check-ins|devices/)"


@pytest.fixture
def api_schema(live_server, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "100000/m", "export": "100000/m"},
    }
    group = Group.objects.create(name="Class 1A")
    person = UserFactory(role=Role.MEMBER)
    group.members.add(person)
    mark_manually(session=make_session(group), person=person, status="present", by=None)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    # Signed in by the session below: no generated Authorization headers or cookies.
    schema.config.generation.update(with_security_parameters=False)
    return schema.exclude(path_regex=EXCLUDED)


@pytest.fixture
def staff_session(api_schema) -> requests.Session:
    """A session cookie of a staff member, and a CSRF token in cookie and header, as a browser sends them."""
    client = Client()
    client.force_login(UserFactory(role=Role.STAFF))
    secret = get_random_string(32)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.cookies.set("csrftoken", secret)
    session.headers["X-CSRFToken"] = secret
    return session


def fuzz(operation, session: requests.Session) -> list[int]:
    """Hypothesis's examples of one operation, each called and checked; the statuses answered."""
    statuses = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: a red CI run can be repeated here
        suppress_health_check=list(HealthCheck),
    )
    def keeps_its_contract(case):
        statuses.append(case.call_and_validate(session=session, checks=CHECKS).status_code)

    keeps_its_contract()
    return statuses


def test_every_operation_keeps_its_contract(api_schema, staff_session):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    started = time.monotonic()
    statuses = {operation.label: fuzz(operation, staff_session) for operation in operations}
    elapsed = time.monotonic() - started
    print(f"\n{sum(map(len, statuses.values()))} requests, {len(statuses)} operations, {elapsed:.1f} s")
    for label, answered in statuses.items():
        print(f"{label}: {sorted(Counter(answered).items())}")
    # Signed in for real: lists answer, and some generated bodies are accepted.
    assert 200 in statuses["GET /api/v1/groups"] and 200 in statuses["GET /api/v1/records"]
    assert 201 in statuses["POST /api/v1/groups"] or 201 in statuses["POST /api/v1/people"]

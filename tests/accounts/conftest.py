"""The enrolled class of the attendance tests, for the device tests that check people in."""

from tests.attendance.conftest import classroom, enrolled_people  # noqa: F401 - shared fixtures

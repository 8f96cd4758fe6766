"""Roles, sign-in, brute-force lockout and the first administrator."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db import IntegrityError
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from accounts.checks import check_sign_in_lockout_settings
from accounts.models import Role, User
from tests.conftest import run_together
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "is_staff", "is_superuser"),
    [(Role.ADMIN, True, True), (Role.STAFF, True, False), (Role.MEMBER, False, False), (Role.KIOSK, False, False)],
)
def test_the_role_decides_admin_access(role, is_staff, is_superuser):
    user = UserFactory(role=role)
    assert (user.is_staff, user.is_superuser) == (is_staff, is_superuser)


def test_email_is_unique_whatever_its_case():
    UserFactory(email="Ada@Example.org")
    with pytest.raises(IntegrityError):
        UserFactory(email="ada@example.org ")


def test_members_without_email_are_allowed():
    UserFactory(email=None)
    UserFactory(email="")
    assert User.objects.filter(email__isnull=True).count() == 2


def test_sign_in_with_username_or_email(client, member):
    response = client.post(reverse("accounts:login"), {"username": member.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_wrong_password_shows_a_clear_error(client, member):
    response = client.post(reverse("accounts:login"), {"username": member.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content


def test_repeated_failures_lock_the_account_even_without_redis(client, member, settings, redis_refused):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"username": member.username, "password": "wrong"})
    response = client.post(reverse("accounts:login"), {"username": member.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert AccessAttempt.objects.filter(username=member.username).exists()


WRONG_PASSWORD = "wrong"


def sign_in(client, login, password=WRONG_PASSWORD, ip="127.0.0.1"):
    return client.post(reverse("accounts:login"), {"username": login, "password": password}, REMOTE_ADDR=ip)


def failures_for(user) -> int:
    return AccessAttempt.objects.filter(username=user.username).aggregate(n=Sum("failures_since_start"))["n"] or 0


def time_passes(seconds):
    """Move every recorded attempt back, as if ``seconds`` had gone by."""
    for pk, attempt_time in AccessAttempt.objects.values_list("pk", "attempt_time"):
        AccessAttempt.objects.filter(pk=pk).update(attempt_time=attempt_time - timedelta(seconds=seconds))


def test_case_variants_of_an_email_share_one_lockout(client, member, settings):
    variants = [member.email, member.email.upper(), member.email.capitalize()]
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, variants[attempt % len(variants)])
    response = sign_in(client, member.email.title(), PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {member.username}


def test_username_and_email_share_one_counter(client, member, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, member.username if attempt % 2 else f" {member.email.upper()} ")
    assert sign_in(client, member.email, PASSWORD).status_code == 429
    assert sign_in(client, member.username, PASSWORD).status_code == 429


def test_spellings_of_an_unknown_login_share_one_counter(client, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "NoBody@Example.org" if attempt % 2 else "nobody@example.org")
    assert AccessAttempt.objects.get().username == "nobody@example.org"
    assert sign_in(client, "NOBODY@example.org").status_code == 429


def test_an_email_stored_with_capitals_signs_in_whatever_the_case(client, member):
    User.objects.filter(pk=member.pk).update(email="Ada.Lovelace@Example.org")
    assert sign_in(client, "ada.lovelace@EXAMPLE.org").status_code == 200
    assert failures_for(member) == 1
    assert sign_in(client, "ada.lovelace@example.org", PASSWORD).status_code == 302


@pytest.fixture
def throttle(settings):
    """Slow an account down from its 4th failure: 2 s after the last failure, doubling, at most 8 s."""
    settings.SIGN_IN_THROTTLE_FAILURES = 4
    settings.SIGN_IN_THROTTLE_BASE_SECONDS = 2.0
    settings.SIGN_IN_THROTTLE_MAX_SECONDS = 8.0
    return settings


def test_failures_from_many_addresses_slow_the_account_down(client, member, throttle, redis_refused):
    for n in range(4):
        assert sign_in(client, member.username, ip=f"10.0.0.{n + 1}").status_code == 200
    # Below every per-address limit, yet the account waits, whatever the password.
    response = sign_in(client, member.email, PASSWORD, ip="10.0.1.1")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 2
    assert b"Too many failed sign-in attempts for this account" in response.content
    assert b'name="password"' in response.content
    assert failures_for(member) == 4
    time_passes(2)
    response = sign_in(client, member.email, PASSWORD, ip="10.0.1.1")
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_the_wait_doubles_with_each_failure_up_to_the_cap(client, member, throttle):
    for n in range(4):
        sign_in(client, member.username, ip=f"10.0.0.{n + 1}")
    for n, wait in enumerate([2, 4, 8, 8]):
        response = sign_in(client, member.username, ip="10.0.9.9")
        assert (response.status_code, response["Retry-After"]) == (429, str(wait))
        time_passes(wait)
        assert sign_in(client, member.username, ip=f"10.0.1.{n + 1}").status_code == 200


def test_refused_attempts_never_push_the_wait_past_the_cap(client, member, throttle):
    for n in range(8):
        time_passes(8)
        assert sign_in(client, member.username, ip=f"10.0.0.{n + 1}").status_code == 200
    waits = set()
    for n in range(30):
        response = sign_in(client, member.email.upper(), PASSWORD if n % 2 else WRONG_PASSWORD, ip=f"10.0.2.{n + 1}")
        assert response.status_code == 429
        waits.add(int(response["Retry-After"]))
    assert max(waits) <= 8
    assert failures_for(member) == 8
    time_passes(8)
    assert sign_in(client, member.username, PASSWORD, ip="10.0.3.1").status_code == 302


def test_another_account_is_not_slowed_down(client, member, throttle):
    other = UserFactory()
    for n in range(4):
        sign_in(client, member.username, ip=f"10.0.0.{n + 1}")
    assert sign_in(client, member.username, PASSWORD, ip="10.0.0.9").status_code == 429
    assert sign_in(client, other.username, ip="10.0.0.9").status_code == 200
    assert sign_in(client, other.email, PASSWORD, ip="10.0.0.9").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_attempts_racing_for_one_slot_get_one_guess_between_them(member, throttle):
    for n in range(4):
        sign_in(Client(), member.username, ip=f"10.0.0.{n + 1}")
    time_passes(2)

    def attempt_from(ip):
        return lambda: sign_in(Client(), member.username, ip=ip).status_code

    statuses = run_together(*[attempt_from(f"10.0.5.{n + 1}") for n in range(6)])
    assert sorted(statuses) == [200, 429, 429, 429, 429, 429]
    assert failures_for(member) == 5


def test_the_admin_sign_in_is_slowed_down_too(client, staff, throttle):
    for n in range(4):
        sign_in(client, staff.username, ip=f"10.0.0.{n + 1}")
    response = client.post(
        reverse("admin:login"), {"username": staff.email, "password": PASSWORD}, REMOTE_ADDR="10.0.1.1"
    )
    assert b"Too many failed sign-in attempts for this account" in response.content
    assert "_auth_user_id" not in client.session


def test_lockout_settings_that_cannot_work_fail_the_system_checks(settings):
    assert check_sign_in_lockout_settings() == []
    settings.SIGN_IN_THROTTLE_FAILURES = 0
    settings.SIGN_IN_THROTTLE_BASE_SECONDS = 10.0
    settings.SIGN_IN_THROTTLE_MAX_SECONDS = 5.0
    settings.AXES_COOLOFF_TIME = None
    assert {error.id for error in check_sign_in_lockout_settings()} == {
        "accounts.E001",
        "accounts.E002",
        "accounts.E003",
    }


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_kiosk_accounts_cannot_see_staff_pages(client, kiosk):
    client.force_login(kiosk)
    assert client.get(reverse("home")).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 403
    assert client.post(reverse("accounts:logout")).status_code == 302


def test_staff_reach_the_admin_and_members_do_not(client, staff, member):
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200
    client.force_login(member)
    assert client.get(reverse("admin:index")).status_code == 302


def test_admin_manages_users(admin_client):
    UserFactory(username="pupil7", role=Role.MEMBER)
    response = admin_client.get(reverse("admin:accounts_user_changelist"), {"role__exact": "member"})
    assert response.status_code == 200
    assert b"pupil7" in response.content
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"username": "kiosk-hall", "email": "", "role": "kiosk", "usable_password": "false"},
    )
    assert response.status_code == 302, response.content
    device = User.objects.get(username="kiosk-hall")
    assert device.is_kiosk and not device.has_usable_password()


def test_ensure_admin_creates_the_first_administrator_once(capsys, monkeypatch):
    monkeypatch.setenv("ATTENDX_ADMIN_PASSWORD", "a-long-first-password")
    call_command("ensure_admin")
    output = capsys.readouterr().out
    assert "username: admin" in output and "password: a-long-first-password" in output
    admin = User.objects.get(username="admin")
    assert admin.role == Role.ADMIN and admin.check_password("a-long-first-password")
    call_command("ensure_admin")
    assert "An administrator exists" in capsys.readouterr().out
    assert User.objects.filter(role=Role.ADMIN).count() == 1

"""Roles, sign-in, brute-force lockout and the first administrator."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db import IntegrityError
from django.urls import reverse

from accounts.models import Role, User
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

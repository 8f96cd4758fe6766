"""Registered devices and their credentials: tokens shown once and stored as SHA-256, one-time pairing
codes for kiosk browsers, and the staff PIN that lets a kiosk leave locked mode (docs/devices.md).

Tokens and codes are random enough (256 and 40 bits) that a plain SHA-256 is the right digest: a
slow password hash would only make every request slower.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy

from accounts.models import Device, DeviceKind, DeviceToken, PairingCode, Role, User

TOKEN_PREFIX = "atx"  # noqa: S105 - the public start of every token, not a secret
# No 0/O, 1/I/L: a code is read off one screen and typed on another.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class PairingRefused(Exception):
    message = gettext_lazy("That code is wrong, used or expired. Ask staff for a new one on the device's page.")


@dataclass(frozen=True)
class IssuedToken:
    token: DeviceToken
    secret: str  # the whole bearer token: shown once, never stored


@dataclass(frozen=True)
class IssuedCode:
    pairing: PairingCode
    code: str  # shown once, as XXXX-XXXX


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalised_code(typed: str) -> str:
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def device_account(*, username: str, first_name: str, last_name: str, liveness: str = "", reuse: bool = False) -> User:
    """The kiosk account a device's check-ins are recorded under; it has no usable password, so it can
    never sign in with one. Raises IntegrityError when ``username`` is taken, unless ``reuse`` (the caller
    has checked that the account holding it is free for the device): then that account is returned."""
    fields = {
        "first_name": first_name,
        "last_name": last_name,
        "role": Role.KIOSK,
        "liveness": liveness,
        "password": make_password(None),
    }
    if reuse:
        return User.objects.get_or_create(username=username, defaults=fields)[0]
    return User.objects.create(username=username, **fields)


def register_device(
    *,
    name: str,
    kind: str = DeviceKind.KIOSK,
    location: str = "",
    groups=(),
    sessions=(),
    liveness: str = "",
    exit_pin: str = "",
    by: User | None = None,
) -> Device:
    """A new device and its kiosk account (``device-<name>``, no usable password: it can never sign in
    with one). Raises IntegrityError when the name or its account's username is taken."""
    with transaction.atomic():
        account = device_account(
            username=f"device-{slugify(name)[:120] or secrets.token_hex(4)}",
            first_name="Device",
            last_name=name,
            liveness=liveness,
        )
        device = Device.objects.create(
            name=name,
            kind=kind,
            location=location,
            account=account,
            exit_pin=make_password(exit_pin) if exit_pin else "",
            created_by=by,
        )
        device.groups.set(groups)
        device.sessions.set(sessions)
    return device


def update_device(
    *,
    device: Device,
    name: str,
    kind: str,
    location: str = "",
    groups=(),
    sessions=(),
    liveness: str = "",
    exit_pin: str = "",
) -> Device:
    """Change what staff set on ``device``; a blank ``exit_pin`` keeps the current one. Its account keeps
    its username. Raises IntegrityError when the name is taken."""
    with transaction.atomic():
        device.name, device.kind, device.location = name, kind, location
        if exit_pin:
            device.exit_pin = make_password(exit_pin)
        device.save()
        device.groups.set(groups)
        device.sessions.set(sessions)
        account = device.account
        account.last_name, account.liveness = name, liveness
        account.save(update_fields=["last_name", "liveness"])
    return device


def set_exit_pin(*, device: Device, pin: str) -> None:
    device.exit_pin = make_password(pin) if pin else ""
    device.save(update_fields=["exit_pin"])


def check_exit_pin(*, device: Device, pin: str) -> bool:
    return bool(device.exit_pin) and check_password(pin, device.exit_pin)


def issue_token(*, device: Device, replace: bool = False) -> IssuedToken:
    """A new bearer token for ``device``; with ``replace``, every earlier one is revoked (rotation)."""
    for _ in range(3):  # a repeated random prefix is astronomically rare; the digest is unique anyway
        prefix = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                if replace:
                    device.tokens.active().update(revoked_at=timezone.now())
                token = DeviceToken.objects.create(device=device, prefix=prefix, digest=_digest(secret))
            return IssuedToken(token=token, secret=secret)
        except IntegrityError:
            continue
    raise RuntimeError("could not issue a unique device token")


def revoke_token(*, token: DeviceToken) -> None:
    DeviceToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def authenticate_token(secret: str) -> DeviceToken | None:
    """The active token whose secret this is, with its device and account; its last use recorded (at
    most every ``LAST_USED_EVERY_SECONDS``). None for a wrong, revoked or malformed token, or a device
    whose account was deactivated."""
    if not secret.startswith(f"{TOKEN_PREFIX}_") or len(secret) > 128:
        return None
    token = DeviceToken.objects.active().select_related("device__account").filter(digest=_digest(secret)).first()
    if token is None or not token.device.account.is_active:
        return None
    now = timezone.now()
    every = timedelta(seconds=settings.DEVICES["LAST_USED_EVERY_SECONDS"])
    if token.last_used_at is None or now - token.last_used_at >= every:
        DeviceToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def start_pairing(*, device: Device, by: User | None = None) -> IssuedCode:
    """A one-time code that pairs a kiosk browser with ``device`` within ``PAIRING_CODE_MINUTES``;
    earlier unused codes of the device stop working."""
    minutes = settings.DEVICES["PAIRING_CODE_MINUTES"]
    now = timezone.now()
    with transaction.atomic():
        device.pairing_codes.filter(used_at__isnull=True).update(used_at=now)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        pairing = PairingCode.objects.create(
            device=device, digest=_digest(code), expires_at=now + timedelta(minutes=minutes), created_by=by
        )
    return IssuedCode(pairing=pairing, code=f"{code[:4]}-{code[4:]}")


def pair(*, code: str) -> tuple[Device, IssuedToken]:
    """Redeem a pairing code: the device and a new token, which replaces the device's earlier ones (one
    browser holds a kiosk's credential). Raises PairingRefused. Two browsers racing for one code: one
    wins, in the database."""
    typed = normalised_code(code)
    if len(typed) != CODE_LENGTH:
        raise PairingRefused()
    now = timezone.now()
    pairing = PairingCode.objects.filter(digest=_digest(typed)).select_related("device").first()
    if pairing is None:
        raise PairingRefused()
    claimed = PairingCode.objects.filter(pk=pairing.pk, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    if claimed != 1:
        raise PairingRefused()
    return pairing.device, issue_token(device=pairing.device, replace=True)


def serving_device(account) -> Device | None:
    """The registered device whose kiosk account ``account`` is, if any (cached on the account)."""
    if not getattr(account, "is_kiosk", False):
        return None
    try:
        return account.device
    except Device.DoesNotExist:
        return None

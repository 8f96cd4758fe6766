"""Check-in without biometrics, for people who do not consent to face recognition: a per-person PIN
(typed with the person's username or id) or a QR card. Both are stored only as digests; wrong PINs lock
the person's PIN for a time that doubles with each further failure (settings ATTENDANCE["FALLBACK_*"]).
"""

import hashlib
import hmac
import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from accounts.audit import audit
from accounts.models import AuditAction, Role
from attendance.models import CheckInCredential, Method, Record, Session
from attendance.outcomes import CHANGES, Result, describe_record, record_json
from attendance.selectors import bump_reports_generation
from attendance.services import (
    NoSessionRunning,
    candidate_sessions,
    check_out,
    mark_arrival,
    session_for,
    session_rosters,
)
from attendx.db import on_commit
from attendx.keys import is_key
from faces.images import DecodedImage

logger = logging.getLogger(__name__)

QR_PREFIX = "attendx:qr:"
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_LOGIN_LENGTH = 150  # a username's longest


class NotRecognised(LookupError):
    """A wrong PIN, an unknown login, an unknown or replaced QR card: one answer, so none is revealed."""

    message = gettext_lazy("Not recognised.")


class CredentialLocked(PermissionError):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after  # seconds

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return ngettext(
            "Too many wrong PINs. Try again in %(minutes)d minute.",
            "Too many wrong PINs. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


class NotExpected(LookupError):
    message = gettext_lazy("You are not on the list of a session open for check-in now.")


class InvalidPin(ValueError):
    message = gettext_lazy("A check-in PIN is 4 to 8 digits.")


class NoQrCode(ValueError):
    message = gettext_lazy("No QR code found: hold the card flat in front of the camera.")


@dataclass(frozen=True, eq=False)
class FallbackCheckIn:
    """One person by PIN or QR card: CHECKED_IN now, CHECKED_OUT by this second scan, or ALREADY (nothing
    changed)."""

    result: Result
    person: object
    record: Record

    @property
    def created(self) -> bool:
        return self.result is Result.CHECKED_IN

    @property
    def changed(self) -> bool:
        return self.result in CHANGES

    @property
    def message(self) -> str:
        return describe_record(self.record, already=not self.changed)

    def to_json(self) -> dict:
        return {
            "result": str(self.result),
            "person": {"id": str(self.person.pk), "name": str(self.person)},
            "record": record_json(self.record),
            "message": self.message,
        }


# Staff: setting a PIN, issuing a card.


def _credential_of(person) -> CheckInCredential:
    if person.role == Role.KIOSK:
        raise ValueError("A device account cannot have a check-in credential.")
    credential, _ = CheckInCredential.objects.get_or_create(person=person)
    return credential


def set_pin(*, person, pin: str, by) -> None:
    """Give ``person`` a check-in PIN of 4 to 8 digits (raises InvalidPin), hashed like a password.

    A new PIN also clears the failures and any lock.
    """
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise InvalidPin()
    credential = _credential_of(person)
    credential.pin, credential.failures, credential.locked_until = make_password(pin), 0, None
    credential.save(update_fields=["pin", "failures", "locked_until", "updated_at"])
    logger.info("Check-in PIN of %s set by %s", person, by)
    audit(action=AuditAction.CHECK_IN_PIN_SET, actor=by, subject=person)


def issue_qr(*, person, by) -> str:
    """A new QR card for ``person``: the code to print, ``attendx:qr:<person key>:<secret>``.

    Only the secret's SHA-256 is kept, so the code can be shown once only; the previous card stops working.
    """
    secret = secrets.token_urlsafe(24)
    credential = _credential_of(person)
    credential.qr_digest = _digest(secret)
    credential.save(update_fields=["qr_digest", "updated_at"])
    logger.info("QR check-in card of %s issued by %s", person, by)
    audit(action=AuditAction.CHECK_IN_QR_ISSUED, actor=by, subject=person)
    return f"{QR_PREFIX}{person.pk}:{secret}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Kiosks: checking in.


def _mark(*, person, sessions: list[Session], device, moment, method: str) -> FallbackCheckIn:
    rosters = session_rosters(sessions)
    open_sessions = [s for s, keys in rosters.items() if not keys]
    target = session_for(rosters, str(person.pk), open_sessions)
    if target is None:
        raise NotExpected()
    if target.has_ended(moment) and not Record.objects.filter(session=target, person=person).exists():
        raise NoSessionRunning(device=device, moment=moment)  # an ended session only takes check-outs
    record, created = mark_arrival(session=target, person=person, moment=moment, method=method, device=device)
    if created:
        on_commit(bump_reports_generation)
        outcome = Result.CHECKED_IN
    else:
        record, checked_out = check_out(record=record, session=target, moment=moment, device=device)
        outcome = Result.CHECKED_OUT if checked_out else Result.ALREADY
    result = FallbackCheckIn(result=outcome, person=person, record=record)
    logger.info("Check-in by %s (%s): %s", device, method, result.message)
    return result


@cache
def _dummy_hash() -> str:
    return make_password("0000")


def _person_for_login(login: str):
    people = get_user_model().objects.filter(is_active=True).exclude(role=Role.KIOSK)
    login = login.strip()
    if not login or len(login) > MAX_LOGIN_LENGTH:
        return None
    if is_key(login) and (person := people.filter(pk=login).first()) is not None:
        return person
    return people.filter(username=login).first()


def _count_failure(credential: CheckInCredential, moment) -> None:
    """One more wrong PIN; from the MAX_FAILURES-th on, a lock of LOCK_MINUTES doubling each time."""
    rules = settings.ATTENDANCE
    # One update, so concurrent wrong PINs each count.
    CheckInCredential.objects.filter(pk=credential.pk).update(failures=F("failures") + 1)
    failures = CheckInCredential.objects.filter(pk=credential.pk).values_list("failures", flat=True).first() or 0
    over = failures - rules["FALLBACK_MAX_FAILURES"]
    if over >= 0:
        minutes = min(rules["FALLBACK_LOCK_MINUTES"] * 2 ** min(over, 30), rules["FALLBACK_LOCK_MAX_MINUTES"])
        locked_until = moment + timedelta(minutes=minutes)
        CheckInCredential.objects.filter(pk=credential.pk).update(locked_until=locked_until)
        logger.warning(
            "Check-in PIN of %s locked until %s after %d failures", credential.person, locked_until, failures
        )


def check_in_by_pin(*, device, login: str, pin: str, session: Session | None = None, moment=None) -> FallbackCheckIn:
    """Check in the person whose username or id is ``login`` if ``pin`` is theirs, once per session; a
    later scan checks them out when due (attendance.services.check_out).

    Raises NotRecognised for a wrong PIN or an unknown login alike (both cost one password hash), and
    CredentialLocked while the person's PIN is locked, even for the right PIN. Sessions are chosen as by
    check_in_by_face: NoSessionRunning, SessionNotServed; NotExpected when the person is on no roster.
    """
    moment = moment or timezone.now()
    sessions = candidate_sessions(device=device, session=session, moment=moment)
    person = _person_for_login(login) if isinstance(login, str) else None
    credential = CheckInCredential.objects.filter(person=person).first() if person is not None else None
    if credential is None or not credential.pin:
        check_password(str(pin), _dummy_hash())  # as slow as a real check: timing tells nothing
        raise NotRecognised()
    if credential.locked_until is not None and credential.locked_until > moment:
        raise CredentialLocked(math.ceil((credential.locked_until - moment).total_seconds()))
    if not (isinstance(pin, str) and PIN_PATTERN.fullmatch(pin) and check_password(pin, credential.pin)):
        _count_failure(credential, moment)
        raise NotRecognised()
    if credential.failures or credential.locked_until is not None:
        CheckInCredential.objects.filter(pk=credential.pk).update(failures=0, locked_until=None)
    return _mark(person=person, sessions=sessions, device=device, moment=moment, method=Method.PIN)


def check_in_by_qr(*, device, code: str, session: Session | None = None, moment=None) -> FallbackCheckIn:
    """Check in the holder of the QR card ``code`` (``attendx:qr:<person key>:<secret>``), once per session;
    a later scan checks them out when due.

    Raises NotRecognised for anything but the person's latest card. Wrong codes are not counted against
    the person named in them (anyone could print such codes), and the PIN's lock does not stop the card:
    its secret cannot be guessed, and the per-device rate limit slows anyone trying.
    """
    moment = moment or timezone.now()
    sessions = candidate_sessions(device=device, session=session, moment=moment)
    rest = code.strip()[len(QR_PREFIX) :] if isinstance(code, str) and code.strip().startswith(QR_PREFIX) else ""
    key, _, secret = rest.partition(":")
    if not (is_key(key) and SECRET_PATTERN.fullmatch(secret)):
        raise NotRecognised()
    credential = (
        CheckInCredential.objects.select_related("person")
        .filter(person__pk=key, person__is_active=True)
        .exclude(qr_digest="")
        .first()
    )
    if credential is None or not hmac.compare_digest(credential.qr_digest, _digest(secret)):
        raise NotRecognised()
    return _mark(person=credential.person, sessions=sessions, device=device, moment=moment, method=Method.QR)


def read_qr_code(*, image: DecodedImage) -> str:
    """The text of the QR code in a camera frame (decoded and held to the frame limits by the caller);
    raises NoQrCode when there is none or it cannot be read."""
    import cv2  # heavy: only when a frame is read

    gray = cv2.cvtColor(image.rgb, cv2.COLOR_RGB2GRAY)
    # The ArUco-based detector reads codes the classic one misses (about 1 in 30 of our cards, measured);
    # the classic one stays as a second try.
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        try:
            text, _, _ = detector.detectAndDecode(gray)
        except cv2.error:
            continue
        if text:
            return text
    raise NoQrCode()

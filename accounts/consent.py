"""Consent to face recognition (GDPR art. 9, BIPA s. 15): the text in force, who agreed to it for whom,
and its withdrawal, which erases the person's biometric data at once. Enrollment (faces.enrollment)
asks ``has_consent`` before it reads a single photo."""

from dataclasses import dataclass

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.models import STAFF_ROLES, AuditAction, Consent, ConsentGiver, ConsentMethod, ConsentText
from attendx.db import run_in_transaction


class ConsentRefused(ValueError):
    """A consent could not be recorded or withdrawn as asked; ``message`` says why, for the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def text_in_force() -> ConsentText | None:
    """The highest version of the consent text, or None while none has been published."""
    return ConsentText.objects.order_by("-version").first()


def next_version() -> int:
    return (ConsentText.objects.aggregate(top=Max("version"))["top"] or 0) + 1


def current_consent(person) -> Consent | None:
    """The person's consent to the text in force, not withdrawn; None without one.

    Consent to an older version does not count: a new version needs a new consent before any new
    enrollment. (Templates enrolled under an older consent are kept; retention decides their end.)
    """
    text = text_in_force()
    if text is None or person is None or person.pk is None:
        return None
    return Consent.objects.filter(person=person, text=text, withdrawn_at__isnull=True).first()


def has_consent(person) -> bool:
    return current_consent(person) is not None


def consent_history(person) -> list[Consent]:
    """Every consent the person gave, newest first, withdrawn ones included."""
    return list(Consent.objects.filter(person=person).select_related("text", "recorded_by", "withdrawn_by"))


def record_consent(
    *, person, given_by: str, giver_name: str, method: str, recorded_by, text: ConsentText | None = None
) -> Consent:
    """Record ``person``'s consent to the text in force (or ``text``); audited as CONSENT_GIVEN.

    On screen, the giver is the signed-in person or a guardian they name; a paper form is recorded by a
    staff member. Raises ConsentRefused when no text is published, the giver's name is blank, a paper
    form is recorded by someone who is not staff, or the person already consented to this version.
    """
    text = text or text_in_force()
    if text is None:
        raise ConsentRefused(_("No consent text has been published yet: an administrator must publish one first."))
    giver_name = (giver_name or "").strip()
    if given_by not in ConsentGiver.values or method not in ConsentMethod.values:
        raise ConsentRefused(_("Say who consented and how."))
    if not giver_name:
        raise ConsentRefused(_("Give the name of whoever consented."))
    if method == ConsentMethod.PAPER and getattr(recorded_by, "role", None) not in STAFF_ROLES:
        raise ConsentRefused(_("Only staff may record a paper consent form."))

    def write() -> Consent | None:
        if Consent.objects.filter(person=person, text=text, withdrawn_at__isnull=True).exists():
            return None
        return Consent.objects.create(
            person=person,
            text=text,
            given_by=given_by,
            giver_name=giver_name[:160],
            method=method,
            recorded_by=recorded_by if getattr(recorded_by, "pk", None) else None,
        )

    consent = run_in_transaction(write)
    if consent is None:
        raise ConsentRefused(
            _("%(person)s has already consented to version %(version)s.") % {"person": person, "version": text.version}
        )
    audit(
        action=AuditAction.CONSENT_GIVEN,
        actor=recorded_by,
        subject=person,
        version=text.version,
        given_by=given_by,
        method=method,
        consent=str(consent.pk),
    )
    return consent


@dataclass(frozen=True)
class Withdrawal:
    consents: int  # how many consents were withdrawn (any version)
    erasure: object  # what faces.erasure.erase_biometrics returned


def withdraw_consent(*, person, by) -> Withdrawal:
    """Withdraw every consent ``person`` holds and erase their biometric data at once; audited.

    Consents are marked withdrawn first, so that no enrollment can start after this returns; then
    faces.erasure removes the templates and photos. Raises ConsentRefused when nothing is withdrawable.
    """
    from faces.erasure import erase_biometrics

    now = timezone.now()
    withdrawer = by if getattr(by, "pk", None) else None

    def write() -> int:
        return Consent.objects.filter(person=person, withdrawn_at__isnull=True).update(
            withdrawn_at=now, withdrawn_by=withdrawer
        )

    count = run_in_transaction(write)
    if not count:
        raise ConsentRefused(_("%(person)s has no consent to withdraw.") % {"person": person})
    erasure = erase_biometrics(person=person, by=by, reason="consent withdrawn")
    audit(action=AuditAction.CONSENT_WITHDRAWN, actor=by, subject=person, consents=count)
    return Withdrawal(consents=count, erasure=erasure)

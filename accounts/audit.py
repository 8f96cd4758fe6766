"""The audit trail of personal data: who viewed a face photo, a review frame or an evidence crop, who
exported attendance, who erased or consented for whom (accounts.models.AuditEvent). Rows hold names,
counts and ids, never biometric data; admins read them in the admin."""

from accounts.models import AuditAction, AuditEvent


def _name(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return str(user)[:160]


def audit(*, action: AuditAction, actor=None, subject=None, **detail) -> AuditEvent:
    """Record ``action`` by ``actor`` (None: the system) on ``subject``'s data; ``detail`` is JSON."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_name=_name(actor),
        subject=subject,
        subject_name=_name(subject) if subject is not None else "",
        detail=detail,
    )

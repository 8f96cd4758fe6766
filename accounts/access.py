"""Access requests (GDPR art. 15): everything AttendX holds about one person, as a zip of JSON files and
their enrolled face photos. Photos are read through their storage, so encryption at rest stays
transparent; a photo whose file is gone is listed as missing in manifest.json."""

import io
import json
import zipfile

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.consent import consent_history
from accounts.models import AuditAction, AuditEvent


def _when(value) -> str | None:
    return value.isoformat() if value else None


def _name(user) -> str | None:
    return str(user) if user is not None else None


def _profile(person) -> dict:
    return {
        "id": str(person.pk),
        "username": person.username,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "role": person.role,
        "is_active": person.is_active,
        "date_joined": _when(person.date_joined),
        "last_login": _when(person.last_login),
        "left_at": _when(person.left_at),
        "groups": sorted(group.name for group in person.attendance_groups.all()),
    }


def _records(person) -> list[dict]:
    from attendance.models import Record

    records = Record.objects.filter(person=person).select_related("session", "session__group", "marked_by")
    return [
        {
            "id": str(record.pk),
            "session": {
                "id": str(record.session.pk),
                "title": record.session.title,
                "group": record.session.group.name,
                "starts_at": _when(record.session.starts_at),
                "ends_at": _when(record.session.ends_at),
                "location": record.session.location,
            },
            "status": record.status,
            "method": record.method,
            "marked_at": _when(record.marked_at),
            "distance": record.distance,
            "marked_by": _name(record.marked_by),
            "note": record.note,
        }
        for record in records.order_by("marked_at")
    ]


def _consents(person) -> list[dict]:
    return [
        {
            "version": consent.text.version,
            "title": consent.text.title,
            "text": consent.text.body,
            "given_by": consent.given_by,
            "giver_name": consent.giver_name,
            "method": consent.method,
            "recorded_by": _name(consent.recorded_by),
            "given_at": _when(consent.given_at),
            "withdrawn_at": _when(consent.withdrawn_at),
            "withdrawn_by": _name(consent.withdrawn_by),
        }
        for consent in consent_history(person)
    ]


def _audit_trail(person) -> list[dict]:
    return [
        {"action": event.action, "by": event.actor_name or "system", "at": _when(event.at), "detail": event.detail}
        for event in AuditEvent.objects.filter(subject=person).order_by("at")
    ]


def _write_json(archive: zipfile.ZipFile, name: str, value) -> None:
    archive.writestr(name, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def access_archive(*, person, by) -> bytes:
    """A zip of person.json, records.json, consents.json, audit.json, samples.json, photos/ and
    manifest.json; audited as ACCESS_REQUEST by ``by``. Embeddings are described, not exported."""
    from faces.models import FaceSample

    samples, photos, missing = [], [], []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for sample in FaceSample.objects.filter(person=person).select_related("enrolled_by").order_by("created_at"):
            name = f"photos/{sample.pk}.{'png' if sample.image_format == 'PNG' else 'jpg'}"
            try:
                with sample.image.open("rb") as handle:
                    archive.writestr(name, handle.read())
            except (FileNotFoundError, ValueError):
                missing.append(str(sample.pk))
                name = None
            else:
                photos.append(name)
            samples.append(
                {
                    "id": str(sample.pk),
                    "photo": name,
                    "source": sample.source,
                    "enrolled_at": _when(sample.created_at),
                    "enrolled_by": _name(sample.enrolled_by),
                    "face_box": sample.box,
                    "template": _("%(count)d numbers computed by %(model)s from the photo")
                    % {"count": sample.dimensions, "model": sample.model_name},
                }
            )
        _write_json(archive, "person.json", _profile(person))
        _write_json(archive, "records.json", _records(person))
        _write_json(archive, "consents.json", _consents(person))
        _write_json(archive, "audit.json", _audit_trail(person))
        _write_json(archive, "samples.json", samples)
        _write_json(
            archive,
            "manifest.json",
            {
                "person": str(person.pk),
                "generated_at": _when(timezone.now()),
                "requested_by": _name(by),
                "photos": photos,
                "missing_photos": missing,
                "note": _(
                    "Face templates (the numbers compared at check-in) are derived from the photos; "
                    "they are listed in samples.json and erased with them."
                ),
            },
        )
    audit(action=AuditAction.ACCESS_REQUEST, actor=by, subject=person, photos=len(photos), missing=len(missing))
    return buffer.getvalue()

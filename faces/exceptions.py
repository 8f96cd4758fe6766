"""Why a photo was refused, in words for the person who sent it. Views map these to 400/413/503.
And why a calibration could not run (the command turns it into CommandError)."""

from django.utils.translation import gettext as _

from faces.images import ImageRejected

__all__ = [
    "AlreadyEnrolled",
    "CalibrationRefused",
    "ConsentRequired",
    "DuplicatePhoto",
    "EnrollmentRefused",
    "ImageRejected",
    "ManyFacesFound",
    "NoFaceFound",
    "PoorQuality",
    "RecognitionUnavailable",
]


class EnrollmentRefused(ValueError):
    code = "refused"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConsentRequired(EnrollmentRefused):
    """No consent to the text in force (accounts.consent): refused before any photo is read, 403."""

    code = "consent_required"
    status = 403

    def __init__(self, *, person, version: int | None):
        if version is None:
            message = _(
                "No consent text has been published yet, so nobody can be enrolled: an administrator must "
                "publish one in the admin (Consent texts)."
            )
        else:
            message = _(
                "No consent to face recognition is on record for %(person)s (consent text version %(version)s): "
                "the person, or a guardian, must agree on the consent page, or staff record a signed paper form, "
                "before any photo is enrolled."
            ) % {"person": person, "version": version}
        super().__init__(message)
        self.person = person
        self.version = version


class NoFaceFound(EnrollmentRefused):
    code = "no_face"

    def __init__(self):
        super().__init__(_("No face found: use a well-lit photo that shows your whole face, looking at the camera."))


class ManyFacesFound(EnrollmentRefused):
    code = "many_faces"

    def __init__(self, count: int):
        super().__init__(_("More than one face found (%(count)d): use a photo that shows only you.") % {"count": count})
        self.count = count


class PoorQuality(EnrollmentRefused):
    code = "poor_quality"


class DuplicatePhoto(EnrollmentRefused):
    code = "duplicate_photo"

    def __init__(self):
        super().__init__(_("This photo is already enrolled."))


class AlreadyEnrolled(EnrollmentRefused):
    """The face matches another person's gallery: the member is told only that it looks enrolled."""

    code = "already_enrolled"

    def __init__(self, *, matched_person, distance: float):
        super().__init__(_("This face looks already enrolled for someone else. Please ask a staff member."))
        self.matched_person = matched_person
        self.distance = distance

    @property
    def staff_message(self) -> str:
        return _("This face matches %(person)s (distance %(distance).3f); it was not enrolled.") % {
            "person": self.matched_person,
            "distance": self.distance,
        }


class RecognitionUnavailable(RuntimeError):
    """The face engine cannot run (weights missing, model broken): answer 503, never 500."""

    status = 503

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CalibrationRefused(ValueError):
    """The gallery cannot be calibrated (too few people or pairs, a bad target rate)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

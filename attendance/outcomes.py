"""What a check-in did, face by face: typed outcomes, and their one JSON form (the API's answer).

The check-in service returns a ``CheckIn``; the API view, the kiosk page and the camera worker read
its fields. ``api_answer`` is the API's status and body for it, which the service also stores as the
answer to an Idempotency-Key (in the same transaction as the marks), so a retry gets the same bytes.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from attendance.agreement import Seen
from attendance.models import Record, Status
from attendance.presence import Presence
from attendance.selectors import duration_words, worked_minutes
from faces.matching import Decision


class Result(StrEnum):
    CHECKED_IN = "checked_in"  # marked now
    CHECKED_OUT = "checked_out"  # marked before, and this second scan checked them out (attendance.services)
    ALREADY = "already_checked_in"  # marked before (or checked out before): nothing changed
    ENDED = "session_ended"  # the session has ended and takes only check-outs: nothing marked
    AGREEING = "agreeing"  # accepted, waiting for more frames to agree (attendance.agreement)
    CHALLENGE = "challenge"  # agreed, asked to do what the kiosk says: a live person? (attendance.presence)
    NOT_LIVE = "not_live"  # a challenge not done: nothing marked, asked to try again
    REVIEW = "review"  # close to somebody, not certain: a staff member decides
    UNKNOWN = "unknown"


def describe_record(record: Record, *, already: bool) -> str:
    when = time_format(timezone.localtime(record.marked_at), "H:i")
    if record.checked_out_at is not None:
        left = time_format(timezone.localtime(record.checked_out_at), "H:i")
        if already:
            return _("%(person)s: already checked out at %(time)s") % {"person": record.person, "time": left}
        if settings.ATTENDANCE["CHECK_OUT_MODE"] == "school":
            return _("%(person)s: left early at %(time)s") % {"person": record.person, "time": left}
        worked = duration_words(worked_minutes(record.marked_at, record.checked_out_at))
        return _("%(person)s: checked out at %(time)s, %(worked)s") % {
            "person": record.person,
            "time": left,
            "worked": worked,
        }
    if already:
        return _("%(person)s: already checked in at %(time)s") % {"person": record.person, "time": when}
    if record.status == Status.LATE:
        return _("%(person)s: checked in at %(time)s, late") % {"person": record.person, "time": when}
    return _("%(person)s: checked in at %(time)s") % {"person": record.person, "time": when}


CHANGES = (Result.CHECKED_IN, Result.CHECKED_OUT)


@dataclass(frozen=True, eq=False)
class FaceOutcome:
    box: tuple[int, int, int, int]
    decision: Decision
    result: Result
    person: object | None = None  # the User, for CHECKED_IN, CHECKED_OUT, ALREADY and AGREEING
    record: Record | None = None  # for CHECKED_IN, CHECKED_OUT and ALREADY
    distance: float | None = None
    margin: float | None = None  # runner-up distance minus distance; None with nobody else to compare
    agreeing: tuple[Seen, ...] = ()  # the recent frames that accepted this person, this one first
    needed: int = 0  # frames the agreement rule needs
    liveness: Presence | None = None  # for CHALLENGE, NOT_LIVE, and the faces that marked

    @property
    def created(self) -> bool:
        return self.result is Result.CHECKED_IN

    @property
    def changed(self) -> bool:
        """Checked in or checked out now: a write on a record."""
        return self.result in CHANGES

    @property
    def message(self) -> str:
        if self.result in (Result.CHECKED_IN, Result.CHECKED_OUT, Result.ALREADY):
            return describe_record(self.record, already=self.result is Result.ALREADY)
        if self.result is Result.AGREEING:
            return _("%(person)s: hold still (%(n)s of %(needed)s frames)") % {
                "person": self.person,
                "n": len(self.agreeing),
                "needed": self.needed,
            }
        if self.result in (Result.CHALLENGE, Result.NOT_LIVE):
            return self.liveness.prompt
        if self.result is Result.ENDED:
            if self.person is None:
                return _("The session has ended.")
            return _("%(person)s: the session has ended, there is nothing to check out.") % {"person": self.person}
        if self.result is Result.REVIEW:
            return _("Not sure who this is: a staff member will check.")
        return _("Not recognised.")

    def to_json(self) -> dict:
        answer = {
            "box": list(self.box),
            "decision": str(self.decision),
            "result": str(self.result),
            "person": None,
            "message": self.message,
        }
        if self.person is not None and self.result not in (Result.REVIEW, Result.NOT_LIVE):
            answer["person"] = {"id": str(self.person.pk), "name": str(self.person)}
        if self.record is not None:
            answer["record"] = record_json(self.record)
        if self.decision is Decision.ACCEPT:
            answer["agreement"] = {"frames": len(self.agreeing), "needed": self.needed}
        if self.liveness is not None:
            answer["liveness"] = {"status": str(self.liveness.status), "challenge": self.liveness.challenge}
        return answer


def record_json(record: Record) -> dict:
    return {
        "id": str(record.pk),
        "session": str(record.session_id),
        "status": str(record.status),
        "marked_at": record.marked_at.isoformat(),
        "checked_out_at": record.checked_out_at.isoformat() if record.checked_out_at else None,
        "method": str(record.method),
    }


@dataclass(frozen=True, eq=False)
class CheckIn:
    """The faces of the request's last frame, after every frame of it was seen."""

    faces: list[FaceOutcome] = field(default_factory=list)
    frames: int = 1

    @property
    def created(self) -> bool:
        return any(face.created for face in self.faces)

    @property
    def changed(self) -> bool:
        return any(face.changed for face in self.faces)

    @property
    def marked(self) -> list[Record]:
        """The records this check-in created."""
        return [face.record for face in self.faces if face.created]

    @property
    def message(self) -> str:
        return " · ".join(face.message for face in self.faces) if self.faces else _("No face found — step closer.")


@dataclass(frozen=True)
class Replayed:
    """The stored answer to an Idempotency-Key seen before."""

    status_code: int
    body: dict


def api_answer(check_in: CheckIn) -> tuple[int, dict]:
    """201 when somebody was checked in or out, else 200; the faces of the last frame, largest first."""
    faces = [face.to_json() for face in check_in.faces]
    body = {"faces": faces, "message": check_in.message, "frames": check_in.frames}
    return (201 if check_in.changed else 200), body

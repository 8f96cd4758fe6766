"""Enroll a folder of photos: DIR/<identity>/<images>, one person per identity.

Each folder is named after a person's username or external id (as in import_people); folders whose
names start with "_" are skipped. A folder that names no account is refused, with a line naming it,
unless --create-missing is given: then a member is created for it (username = folder name, no usable
password). A folder that is one person's username and another's external id is always refused. Each
photo is enrolled or refused with its reason; running the command again skips photos already
enrolled. Exits non-zero when nothing could be enrolled.

Enrollment needs each person's consent to the consent text in force (accounts.consent). People without
it are refused (their photos skipped; the command then exits non-zero) unless --consent-on-file
--operator USERNAME is given: the operator, a staff member, attests that a signed paper form is on file
for each of them, and a paper consent is recorded under the operator's name.

--queue hands the photos to a Celery worker instead (faces.jobs, in jobs of FACES_BULK_MAX_PHOTOS) and
follows its progress; --no-wait returns once they are queued (the staff page "Face jobs" shows them).
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from tqdm import tqdm

from accounts.consent import ConsentRefused, has_consent, record_consent, text_in_force
from accounts.importing import people_named
from accounts.models import STAFF_ROLES, ConsentGiver, ConsentMethod, Role, User
from attendx.queue import QueueUnavailable
from faces.enrollment import Photo, PhotosRefused, face_enroll
from faces.exceptions import DuplicatePhoto, RecognitionUnavailable
from faces.jobs import PhotoFor, follow_job, start_enrollment_job
from faces.models import JobState, Source


def _valid_username(name: str) -> bool:
    try:
        UnicodeUsernameValidator()(name)
    except ValidationError:
        return False
    return len(name) <= User._meta.get_field("username").max_length


def _refusal(identity: str, ambiguous: set[str], create_missing: bool) -> str | None:
    """Why a folder naming nobody is refused; None when a member may be created for it."""
    if identity in ambiguous:
        return "it is one person's username and another's external id; rename it after one of them"
    if not create_missing:
        return "no account has this username or external id (--create-missing creates a member)"
    if User.objects.filter(Q(username=identity) | Q(external_id=identity)).exists():
        return "it names an account that has left or is a device"
    if not _valid_username(identity):
        return "not a valid username: letters, digits and @ . + - _ only"
    return None


def identity_folders(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(("_", ".")))


def photo_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))


def create_member(identity: str) -> User:
    person = User(username=identity, role=Role.MEMBER, first_name=identity.replace("_", " ").title()[:150])
    person.set_unusable_password()
    person.save()
    return person


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        parser.add_argument("--queue", action="store_true", help="enroll on a Celery worker (faces.jobs)")
        parser.add_argument("--no-wait", action="store_true", help="with --queue: return once queued")
        parser.add_argument(
            "--consent-on-file",
            action="store_true",
            help="signed consent forms are on file: record a paper consent for those without one",
        )
        parser.add_argument("--operator", help="with --consent-on-file: the username of the attesting staff member")
        parser.add_argument(
            "--create-missing",
            action="store_true",
            help="create a member for each folder that names no account (username = folder name)",
        )

    def handle(self, *args, directory: Path, no_progress: bool, queue: bool, no_wait: bool, **options):
        operator = self._operator(options["consent_on_file"], options["operator"])
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        work = [(folder.name, path) for folder in identity_folders(directory) for path in photo_files(folder)]
        if not work:
            raise CommandError(f"No photos found in {directory}/<identity>/.")
        if text_in_force() is None:
            raise CommandError("No consent text has been published: an administrator must publish one in the admin.")
        people, refused = self._people(sorted({identity for identity, _ in work}), options["create_missing"])
        without_consent = self._settle_consent(people, operator)
        for identity in sorted(without_consent):
            self.stdout.write(
                f"{identity}: refused: no consent on record; photos skipped "
                "(--consent-on-file --operator USERNAME if signed forms are on file)"
            )
        people = {identity: person for identity, person in people.items() if identity not in without_consent}
        work = [(identity, path) for identity, path in work if identity in people]
        if not work:
            reasons = [f"{len(refused)} folder(s) refused"] if refused else []
            reasons += [f"{len(without_consent)} people without consent"] if without_consent else []
            raise CommandError(f"Nothing could be enrolled: {', '.join(reasons)}.")
        if queue:
            self._queue(work, people, no_progress=no_progress, no_wait=no_wait)
        else:
            self._enroll(work, people, no_progress=no_progress)
        if refused:
            self.stdout.write(f"{len(refused)} folder(s) refused, their photos skipped: {', '.join(refused)}.")
        if without_consent:
            raise CommandError(f"{len(without_consent)} people were refused for lack of consent.")

    def _people(self, identities: list[str], create_missing: bool) -> tuple[dict[str, User | None], list[str]]:
        """Whom each folder names (None: a member to create), and the folders refused, each with a line."""
        found, ambiguous = people_named(identities)
        people, refused = {}, []
        for identity in identities:
            reason = None if identity in found else _refusal(identity, ambiguous, create_missing)
            if reason is None:
                people[identity] = found.get(identity)
            else:
                refused.append(identity)
                self.stdout.write(f"{identity}: refused: {reason}")
        return people, refused

    def _operator(self, consent_on_file: bool, username: str | None) -> User | None:
        if not consent_on_file:
            if username:
                raise CommandError("--operator goes with --consent-on-file.")
            return None
        if not username:
            raise CommandError("--consent-on-file needs --operator USERNAME: the staff member attesting the forms.")
        operator = User.objects.filter(username=username, is_active=True, role__in=STAFF_ROLES).first()
        if operator is None:
            raise CommandError(f"--operator {username}: no active staff account of that name.")
        return operator

    def _settle_consent(self, people: dict[str, User | None], operator: User | None) -> set[str]:
        """The identities refused for lack of consent; with an operator, none: their paper forms are
        recorded (and the members to create are created first)."""
        refused = set()
        for identity, person in sorted(people.items()):
            if person is not None and has_consent(person):
                continue
            if operator is None:
                refused.add(identity)  # no account is created for someone who cannot be enrolled
                continue
            if person is None:
                person = people[identity] = create_member(identity)
                if has_consent(person):
                    continue
            try:
                record_consent(
                    person=person,
                    given_by=ConsentGiver.PERSON,
                    giver_name=str(person),
                    method=ConsentMethod.PAPER,
                    recorded_by=operator,
                )
            except ConsentRefused as error:
                raise CommandError(error.message) from error
            self.stdout.write(f"{identity}: paper consent on file, recorded by {operator.username}")
        return refused

    def _enroll(self, work: list[tuple[str, Path]], people: dict[str, User], *, no_progress: bool) -> None:
        counts = {"enrolled": 0, "already enrolled": 0, "refused": 0}
        with_faces = set()
        with tqdm(total=len(work), unit="photo", disable=no_progress, file=self.stderr._out) as bar:
            for identity, path in work:
                outcome = self._enroll_one(people[identity], path)
                counts[outcome.split(":")[0]] += 1
                if not outcome.startswith("refused"):
                    with_faces.add(identity)
                bar.write(f"{identity}/{path.name}: {outcome}", file=self.stdout._out)
                bar.update()
        summary = (
            f"{counts['enrolled']} enrolled, {counts['already enrolled']} already enrolled, "
            f"{counts['refused']} refused; {len(with_faces)} people with faces."
        )
        if not counts["enrolled"] and not counts["already enrolled"]:
            raise CommandError(f"Nothing could be enrolled: {summary}")
        self.stdout.write(self.style.SUCCESS(summary))

    def _queue(
        self, work: list[tuple[str, Path]], people: dict[str, User], *, no_progress: bool, no_wait: bool
    ) -> None:
        size, jobs = settings.FACES["BULK_MAX_PHOTOS"], []
        for start in range(0, len(work), size):
            photos = [
                PhotoFor(
                    people[identity], Photo(data=path.read_bytes(), filename=path.name), f"{identity}/{path.name}"
                )
                for identity, path in work[start : start + size]
            ]
            try:
                jobs.append(start_enrollment_job(photos=photos))
            except QueueUnavailable as error:
                queued = f" ({sum(job.total for job in jobs)} photos were queued before it)" if jobs else ""
                raise CommandError(f"{error}{queued}") from error
        self.stdout.write(f"Queued {len(work)} photo(s) in job(s) {', '.join(str(job.pk) for job in jobs)}.")
        if no_wait:
            return
        failed = False
        with tqdm(total=len(work), unit="photo", disable=no_progress, file=self.stderr._out) as bar:
            for job in jobs:
                done = bar.n

                def progress(current, done=done):
                    bar.update(done + current.position - bar.n)

                finished = follow_job(str(job.pk), progress=progress)
                for label, outcome in finished.outcomes:
                    bar.write(f"{label}: {outcome}", file=self.stdout._out)
                self.stdout.write(finished.summary)
                failed |= finished.state == JobState.FAILED
        if failed:
            raise CommandError("A job failed; see the worker's log.")

    def _enroll_one(self, person: User, path: Path) -> str:
        try:
            face_enroll(
                person=person, photos=[Photo(data=path.read_bytes(), filename=path.name)], source=Source.COMMAND
            )
        except PhotosRefused as refused:
            (_, reason), *_ = refused.refusals
            if isinstance(reason, DuplicatePhoto):
                return "already enrolled"
            return f"refused: {getattr(reason, 'staff_message', reason.message)}"
        except RecognitionUnavailable as error:
            raise CommandError(error.message) from error
        return "enrolled"

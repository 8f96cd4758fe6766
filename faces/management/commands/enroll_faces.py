"""Enroll a folder of photos: DIR/<identity>/<images>, one member per identity.

Folders whose names start with "_" are skipped. A member is created for each identity that has no
account yet (username = folder name, no usable password). Each photo is enrolled or refused with its
reason; running the command again skips photos already enrolled. Exits non-zero only when nothing
could be enrolled.

Enrollment needs each person's consent to the consent text in force (accounts.consent). People without
it are refused (their photos skipped; the command then exits non-zero) unless --consent-on-file
--operator USERNAME is given: the operator, a staff member, attests that a signed paper form is on file
for each of them, and a paper consent is recorded under the operator's name.

--queue hands the photos to a Celery worker instead (faces.jobs, in jobs of FACES_BULK_MAX_PHOTOS) and
follows its progress; --no-wait returns once they are queued (the staff page "Face jobs" shows them).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.consent import ConsentRefused, has_consent, record_consent, text_in_force
from accounts.models import STAFF_ROLES, ConsentGiver, ConsentMethod, Role, User
from attendx.queue import QueueUnavailable
from faces.exceptions import DuplicatePhoto, RecognitionUnavailable
from faces.jobs import PhotoFor, follow_job, start_enrollment_job
from faces.models import JobState, Source
from faces.services import Photo, PhotosRefused, face_enroll


def identity_folders(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(("_", ".")))


def photo_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))


def member_for(identity: str) -> User:
    person, created = User.objects.get_or_create(
        username=identity,
        defaults={"role": Role.MEMBER, "first_name": identity.replace("_", " ").title()[:150]},
    )
    if created:
        person.set_unusable_password()
        person.save(update_fields=["password"])
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

    def handle(self, *args, directory: Path, no_progress: bool, queue: bool, no_wait: bool, **options):
        operator = self._operator(options["consent_on_file"], options["operator"])
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        work = [(folder.name, path) for folder in identity_folders(directory) for path in photo_files(folder)]
        if not work:
            raise CommandError(f"No photos found in {directory}/<identity>/.")
        if text_in_force() is None:
            raise CommandError("No consent text has been published: an administrator must publish one in the admin.")
        without_consent = self._settle_consent(sorted({identity for identity, _ in work}), operator)
        work = [(identity, path) for identity, path in work if identity not in without_consent]
        if without_consent:
            for identity in sorted(without_consent):
                self.stdout.write(
                    f"{identity}: refused: no consent on record; photos skipped "
                    "(--consent-on-file --operator USERNAME if signed forms are on file)"
                )
        if not work:
            raise CommandError(f"Nothing could be enrolled: {len(without_consent)} people without consent.")
        if queue:
            self._queue(work, no_progress=no_progress, no_wait=no_wait)
        else:
            self._enroll(work, no_progress=no_progress)
        if without_consent:
            raise CommandError(f"{len(without_consent)} people were refused for lack of consent.")

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

    def _settle_consent(self, identities: list[str], operator: User | None) -> set[str]:
        """The identities refused for lack of consent; with an operator, none: their paper forms are recorded."""
        refused = set()
        for identity in identities:
            person = User.objects.filter(username=identity).first()
            if person is not None and has_consent(person):
                continue
            if operator is None:
                refused.add(identity)  # no account is created for someone who cannot be enrolled
                continue
            person = person or member_for(identity)
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

    def _enroll(self, work: list[tuple[str, Path]], *, no_progress: bool) -> None:
        counts = {"enrolled": 0, "already enrolled": 0, "refused": 0}
        people = set()
        with tqdm(total=len(work), unit="photo", disable=no_progress, file=self.stderr._out) as bar:
            for identity, path in work:
                outcome = self._enroll_one(member_for(identity), path)
                counts[outcome.split(":")[0]] += 1
                if not outcome.startswith("refused"):
                    people.add(identity)
                bar.write(f"{identity}/{path.name}: {outcome}", file=self.stdout._out)
                bar.update()
        summary = (
            f"{counts['enrolled']} enrolled, {counts['already enrolled']} already enrolled, "
            f"{counts['refused']} refused; {len(people)} people with faces."
        )
        if not counts["enrolled"] and not counts["already enrolled"]:
            raise CommandError(f"Nothing could be enrolled: {summary}")
        self.stdout.write(self.style.SUCCESS(summary))

    def _queue(self, work: list[tuple[str, Path]], *, no_progress: bool, no_wait: bool) -> None:
        size, jobs = settings.FACES["BULK_MAX_PHOTOS"], []
        for start in range(0, len(work), size):
            photos = [
                PhotoFor(
                    member_for(identity), Photo(data=path.read_bytes(), filename=path.name), f"{identity}/{path.name}"
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

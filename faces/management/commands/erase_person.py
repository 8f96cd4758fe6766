"""Erase a person's biometric data: their face photos and embeddings, evidence crops, review frames,
not-live crops, the files and the Redis copies. The account and its attendance records stay.

Asks for confirmation on a terminal unless --yes; prints what was erased. Audited as done by the system.
"""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from faces.erasure import erase_biometrics


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--reason", default="erase_person command", help="kept in the audit trail")

    def handle(self, *args, username: str, yes: bool, reason: str, **options):
        person = get_user_model().objects.filter(username=username).first()
        if person is None:
            raise CommandError(f"No user {username!r}.")
        if not yes and sys.stdin.isatty():
            answer = input(f"Erase every face photo, crop and frame of {person} ({username})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing erased.")
        erased = erase_biometrics(person=person, reason=reason)
        self.stdout.write(
            f"Erased for {username}: {erased.samples} face samples, {erased.evidence_crops} evidence crops, "
            f"{erased.review_frames} review frames, {erased.not_live_crops} not-live crops, {erased.files} files, "
            f"{erased.cache_keys} cache keys."
        )
        if erased.cache_purge_pending:
            self.stdout.write(
                "Redis did not answer: its copies are deleted when it does (faces.tasks.carry_out_cache_purges)."
            )

"""Calibrate the face thresholds on the enrolled gallery, and store the calibration (faces.calibration).

Prints the estimated false-match rate (FMR), false-positive identification rate at this gallery's
size (FPIR) and genuine reject rate by distance, the recommended accept and review distances and
margins for the target rate, what the estimate rests on, and the look-alike pairs. The stored
calibration's thresholds are in force from then on, unless FACES settings pin them. --dry-run
stores nothing.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from faces.calibration_runs import face_calibrate
from faces.exceptions import CalibrationRefused, RecognitionUnavailable
from faces.thresholds import thresholds_in_force


def _rate(value: float) -> str:
    return f"{value:.1%}" if value >= 0.001 else f"{value:.1e}"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--target",
            type=float,
            help="strangers accepted per check-in to aim at (default FACES_CALIBRATION_TARGET_RATE, "
            f"{settings.FACES['CALIBRATION_TARGET_RATE']:g})",
        )
        parser.add_argument("--no-prior", action="store_true", help="never pool the public pairs in")
        parser.add_argument("--dry-run", action="store_true", help="print the calibration, store nothing")

    def handle(self, *args, target: float | None, no_prior: bool, dry_run: bool, **options):
        if target is not None and not 0 < target < 1:
            raise CommandError("--target must be between 0 and 1, e.g. 0.0001 for 1 in 10,000 check-ins.")
        before = thresholds_in_force()
        try:
            run = face_calibrate(target=target, use_prior=not no_prior, store=not dry_run)
        except (CalibrationRefused, RecognitionUnavailable) as error:
            raise CommandError(error.message) from error
        result, limits, write = run.result, run.result.thresholds, self.stdout.write
        write(
            f"Calibration on {result.people} people, {result.samples} samples; target {result.target:g} "
            f"(1 stranger accepted in {1 / result.target:,.0f} check-ins)."
        )
        if result.prior_pooled:
            write(
                f"Prior: the public pairs in {run.prior.directory} ({result.prior_genuine.total} genuine, "
                f"{result.prior_impostor.total} impostor) were pooled in: the gallery is small."
            )
        write("")
        write(
            f"| distance | FMR | impostor pairs below | FPIR ({result.people} people, {result.samples} samples) "
            "| genuine reject | |"
        )
        write("| ---: | ---: | ---: | ---: | ---: | --- |")
        for row in result.table():
            write(
                f"| {row.distance:.3f} | {row.fmr:.1e} | {row.impostor_below:,} / {result.impostor.total:,} "
                f"| {_rate(row.fpir)} | {row.genuine_reject:.1%} | {row.marks} |"
            )
        write("")
        write(
            self.style.SUCCESS(
                f"Recommended: accept below {limits.accept:.3f}, review below {limits.review:.3f}, "
                f"margin {limits.margin:.3f}, look-alike margin {limits.lookalike_margin:.3f}."
            )
        )
        found = result.searches
        bound = f" (none seen: below {3 / found.strangers:.1%} at 95%)" if not found.strangers_accepted else ""
        write(
            f"1:N searches at these thresholds: {found.strangers} as strangers (their person left out), "
            f"{found.strangers_accepted} accepted{bound}, {found.strangers_reviewed} to review; "
            f"{found.enrolled} as enrolled people, {found.enrolled_accepted} accepted as themselves, "
            f"{found.misidentified} as someone else."
        )
        if result.lookalikes:
            write(f"Look-alikes (nearest samples within {limits.review:.3f} of each other):")
            for pair in result.lookalikes:
                first, second = (run.names.get(key, key) for key in (pair.first, pair.second))
                write(f"  {first} and {second}: {pair.distance:.4f}")
        else:
            write(f"Look-alikes (nearest samples within {limits.review:.3f} of each other): none.")
        write("What the estimate rests on:")
        for note in result.notes:
            write(f"  - {note}")
        old = before.thresholds
        write(f"Before: accept {old.accept:.3f}, review {old.review:.3f}, margin {old.margin:.3f} ({before.source}).")
        if dry_run:
            write("Dry run: nothing stored.")
        elif settings.FACES["THRESHOLDS_PINNED"]:
            write(
                self.style.WARNING(
                    "Stored, but not in force: FACES settings pin the thresholds "
                    "(unset FACES_ACCEPT_DISTANCE, FACES_REVIEW_DISTANCE, FACES_MARGIN, FACES_LOOKALIKE_MARGIN)."
                )
            )
        else:
            write(self.style.SUCCESS(f"Stored calibration {run.stored.pk}: its thresholds are in force now."))

"""Recompute stored face embeddings with the current model, detector and pipeline.

By default only samples made by another pipeline are re-embedded; --all does every sample.
A sample whose photo no longer yields exactly one face keeps its old embedding and is reported.
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from faces.exceptions import RecognitionUnavailable
from faces.models import FaceSample
from faces.services import current_pipeline, reembed_samples


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="re-embed every sample, not only stale ones")
        parser.add_argument("--dry-run", action="store_true", help="count the samples, change nothing")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, all: bool, dry_run: bool, no_progress: bool, **options):
        samples = FaceSample.objects.select_related("person").order_by("pk")
        if not all:
            samples = samples.exclude(pipeline_version=current_pipeline().pipeline_version)
        total = samples.count()
        if dry_run or not total:
            self.stdout.write(f"{total} sample{'s' if total != 1 else ''} to re-embed.")
            return
        with tqdm(total=total, unit="sample", disable=no_progress, file=self.stderr._out) as bar:

            def progress(sample, problem):
                if problem:
                    bar.write(f"{sample.person} sample {sample.pk}: kept the old embedding, {problem}")
                bar.update()

            try:
                done, failed = reembed_samples(samples.iterator(), progress=progress)
            except RecognitionUnavailable as error:
                raise CommandError(error.message) from error
        self.stdout.write(self.style.SUCCESS(f"Re-embedded {done} sample(s); {failed} failed."))
        if failed and not done:
            raise CommandError("No sample could be re-embedded.")

"""Recompute stored face embeddings with the current model, detector and pipeline.

By default only samples made by another pipeline are re-embedded; --all does every sample.
A sample whose photo no longer yields exactly one face keeps its old embedding and is reported.
--queue hands the work to a Celery worker (faces.jobs) and follows its progress; --no-wait returns
once it is queued.
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from attendx.queue import QueueUnavailable
from faces.exceptions import RecognitionUnavailable
from faces.jobs import follow_job, start_reembed_job
from faces.models import FaceSample, JobState
from faces.pipeline import current_pipeline
from faces.reembedding import reembed_samples


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="re-embed every sample, not only stale ones")
        parser.add_argument("--dry-run", action="store_true", help="count the samples, change nothing")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        parser.add_argument("--queue", action="store_true", help="re-embed on a Celery worker (faces.jobs)")
        parser.add_argument("--no-wait", action="store_true", help="with --queue: return once queued")

    def handle(self, *args, all: bool, dry_run: bool, no_progress: bool, queue: bool, no_wait: bool, **options):
        samples = FaceSample.objects.select_related("person").order_by("pk")
        if not all:
            samples = samples.exclude(pipeline_version=current_pipeline().pipeline_version)
        total = samples.count()
        if dry_run or not total:
            self.stdout.write(f"{total} sample{'s' if total != 1 else ''} to re-embed.")
            return
        if queue:
            return self._queue(everything=all, no_progress=no_progress, no_wait=no_wait)
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

    def _queue(self, *, everything: bool, no_progress: bool, no_wait: bool) -> None:
        try:
            job = start_reembed_job(everything=everything)
        except QueueUnavailable as error:
            raise CommandError(str(error)) from error
        if job is None:
            self.stdout.write("0 samples to re-embed.")
            return
        self.stdout.write(f"Queued {job.total} sample(s) in job {job.pk}.")
        if no_wait:
            return
        with tqdm(total=job.total, unit="sample", disable=no_progress, file=self.stderr._out) as bar:
            job = follow_job(str(job.pk), progress=lambda current: bar.update(current.position - bar.n))
        for _, label, problem in job.outcomes:
            self.stdout.write(f"{label}: kept the old embedding, {problem}")
        self.stdout.write(self.style.SUCCESS(job.summary))
        if job.state == JobState.FAILED:
            raise CommandError("The job failed; see the worker's log.")

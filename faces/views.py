"""Enrollment pages: members enroll themselves, staff enroll anyone; the private photo view; the staff
page of the latest calibration; the staff page of background face jobs (bulk enrollment, re-embedding)
with each job's progress."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import audit
from accounts.consent import current_consent, text_in_force
from accounts.decorators import staff_required
from accounts.models import AuditAction
from attendx import unavailable
from attendx.body_limits import body_limit
from attendx.forms import error_status, error_text
from attendx.queue import QUEUE, QueueUnavailable
from attendx.ratelimit import ratelimit
from attendx.unavailable import answered_unavailable
from faces.calibration_runs import calibration_overview
from faces.charts import distance_chart
from faces.enrollment import PhotosRefused, face_enroll, face_sample_delete
from faces.exceptions import AlreadyEnrolled, RecognitionUnavailable
from faces.forms import BulkEnrollForm, EnrollForm, PeopleSearchForm, ReembedForm
from faces.identification import face_lookalikes
from faces.jobs import start_enrollment_job, start_reembed_job
from faces.models import FaceSample
from faces.reembedding import gallery_status
from faces.selectors import (
    active_people,
    face_jobs,
    people_to_enroll,
    recent_face_jobs,
    samples_of,
    samples_with_person,
)
from faces.storage import private_file_response

CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def enroll_body_limit() -> int:
    faces = settings.FACES
    return faces["MAX_UPLOAD_BYTES"] * faces["MAX_PHOTOS_PER_UPLOAD"] + settings.REQUEST_BODY_OVERHEAD_BYTES


def enroll_rate(group, request):
    return settings.FACES["ENROLL_RATE"]


def staff_enroll_rate(group, request):
    return settings.FACES["STAFF_ENROLL_RATE"]


def _refusal_lines(error: PhotosRefused, *, for_staff: bool) -> list[str]:
    lines = []
    for filename, refusal in error.refusals:
        text = refusal.staff_message if for_staff and isinstance(refusal, AlreadyEnrolled) else refusal.message
        lines.append(_("%(file)s: %(reason)s") % {"file": filename, "reason": text} if filename else text)
    return lines


def _enroll_page(request, person, *, template="faces/enroll.html"):
    form = EnrollForm(request.POST or None, request.FILES or None)
    context = {
        "person": person,
        "form": form,
        "samples": samples_of(person=person),
        "self_service": person == request.user,
        "consent": current_consent(person),
        "consent_text": text_in_force(),
        "max_upload_mb": settings.FACES["MAX_UPLOAD_BYTES"] // (1024 * 1024),
    }
    if request.method != "POST":
        return render(request, template, context)
    if not form.is_valid():
        too_large = any(error.code == "too_large" for error in form.errors.as_data().get("photos", []))
        return render(request, template, context, status=413 if too_large else 400)
    try:
        samples = face_enroll(
            person=person,
            photos=form.photos_to_enroll(),
            source=form.cleaned_data["source"],
            enrolled_by=request.user,
        )
    except PhotosRefused as error:
        context["refusals"] = _refusal_lines(error, for_staff=request.user.is_staff_member)
        return render(request, template, context, status=error.status)
    except RecognitionUnavailable as error:
        answered_unavailable(request, unavailable.RECOGNITION, str(error))
        context["unavailable"] = True
        response = render(request, template, context, status=503)
        response["Retry-After"] = "60"
        return response
    count = len(samples)
    messages.success(
        request,
        ngettext("%(count)d photo enrolled for %(person)s.", "%(count)d photos enrolled for %(person)s.", count)
        % {"count": count, "person": person},
    )
    _warn_of_lookalikes(request, person)
    return redirect(request.path)


def _warn_of_lookalikes(request, person) -> None:
    """Staff learn whom the person looks like; a member only that a check-in may need a staff review."""
    found = face_lookalikes(person=person)
    if not found:
        return
    if request.user.is_staff_member:
        names = ", ".join(f"{item.person} ({item.distance:.3f})" for item in found)
        messages.warning(
            request,
            _("%(person)s looks like %(names)s: between them, check-ins need a clearer lead or a staff review.")
            % {"person": person, "names": names},
        )
    else:
        messages.warning(
            request, _("Your face is close to another enrolled person's: some check-ins may need a staff review.")
        )


@body_limit(enroll_body_limit)
@ratelimit(rate=enroll_rate, key="user")
def enroll_self(request):
    if request.user.is_kiosk:
        raise PermissionDenied
    return _enroll_page(request, request.user)


@body_limit(enroll_body_limit)
@staff_required
@ratelimit(rate=staff_enroll_rate, key="user")
def enroll_person(request, person_id):
    return _enroll_page(request, get_object_or_404(active_people(), pk=person_id))


@staff_required
def people(request):
    form = PeopleSearchForm(request.GET)
    status = 200
    if not form.is_valid():
        messages.error(request, error_text(form))
        status = error_status(form)
    query = form.cleaned_data.get("q", "")
    context = {"people": people_to_enroll(query=query), "query": query}
    return render(request, "faces/people.html", context, status=status)


def _visible_sample(request, sample_id) -> FaceSample:
    sample = get_object_or_404(samples_with_person(), pk=sample_id)
    if not (request.user.is_staff_member or sample.person_id == request.user.pk):
        raise PermissionDenied
    return sample


def sample_image(request, sample_id):
    sample = _visible_sample(request, sample_id)
    response = private_file_response(sample.image, CONTENT_TYPES.get(sample.image_format, "image/jpeg"))
    audit(action=AuditAction.VIEWED_PHOTO, actor=request.user, subject=sample.person, sample=str(sample.pk))
    return response


@require_POST
def sample_delete(request, sample_id):
    sample = _visible_sample(request, sample_id)
    person = sample.person
    face_sample_delete(sample=sample)
    messages.success(request, _("The photo was deleted."))
    if person == request.user:
        return redirect("faces:enroll-self")
    return redirect("faces:enroll-person", person_id=person.pk)


@staff_required
def calibration(request):
    overview = calibration_overview()
    chart = None
    if overview.latest is not None:
        latest = overview.latest
        chart = distance_chart(latest.histogram, accept=latest.accept_distance, review=latest.review_distance)
    return render(request, "faces/calibration.html", {"overview": overview, "chart": chart})


# Background face jobs (faces.jobs): staff queue them here and watch their progress.


def bulk_body_limit() -> int:
    return settings.FACES["BULK_MAX_UPLOAD_BYTES"] + settings.REQUEST_BODY_OVERHEAD_BYTES


def _jobs_page(request, *, enroll_form=None, reembed_form=None, status=200, unavailable_message=""):
    context = {
        "enroll_form": enroll_form or BulkEnrollForm(),
        "reembed_form": reembed_form or ReembedForm(),
        "gallery_status": gallery_status(),
        "jobs": recent_face_jobs(),
        "unavailable_message": unavailable_message,
        "max_photos": settings.FACES["BULK_MAX_PHOTOS"],
        "max_mb": settings.FACES["BULK_MAX_UPLOAD_BYTES"] // (1024 * 1024),
    }
    response = render(request, "faces/jobs.html", context, status=status)
    if status == 503:
        response["Retry-After"] = "60"
    return response


def _queue_unavailable(request, error: QueueUnavailable):
    answered_unavailable(request, QUEUE, str(error.__cause__ or error))
    return _jobs_page(request, status=503, unavailable_message=error.message)


@staff_required
def jobs(request):
    return _jobs_page(request)


@body_limit(bulk_body_limit)
@staff_required
@require_POST
def bulk_enroll(request):
    form = BulkEnrollForm(request.POST, request.FILES)
    if not form.is_valid():
        too_large = any(error.code == "too_large" for error in form.errors.as_data().get("archive", []))
        return _jobs_page(request, enroll_form=form, status=413 if too_large else error_status(form))
    try:
        job = start_enrollment_job(photos=form.photos_to_enroll(), started_by=request.user)
    except QueueUnavailable as error:
        return _queue_unavailable(request, error)
    messages.success(
        request,
        ngettext("%(count)d photo queued for enrollment.", "%(count)d photos queued for enrollment.", job.total)
        % {"count": job.total},
    )
    return redirect("faces:job", job_id=job.pk)


@staff_required
@require_POST
def reembed(request):
    form = ReembedForm(request.POST)
    if not form.is_valid():
        return _jobs_page(request, reembed_form=form, status=error_status(form))
    try:
        job = start_reembed_job(everything=form.cleaned_data["everything"], started_by=request.user)
    except QueueUnavailable as error:
        return _queue_unavailable(request, error)
    if job is None:
        messages.info(request, _("Every sample was made by the current pipeline: nothing to re-embed."))
        return redirect("faces:jobs")
    messages.success(
        request,
        ngettext("%(count)d sample queued for re-embedding.", "%(count)d samples queued for re-embedding.", job.total)
        % {"count": job.total},
    )
    return redirect("faces:job", job_id=job.pk)


@staff_required
@require_GET
def job(request, job_id):
    return render(request, "faces/job.html", {"job": get_object_or_404(face_jobs(), pk=job_id)})


@staff_required
@require_GET
def job_progress(request, job_id):
    """What the job page's progress bar polls."""
    found = get_object_or_404(face_jobs(), pk=job_id)
    return JsonResponse(
        {
            "state": found.state,
            "state_display": found.get_state_display(),
            "finished": found.finished,
            "total": found.total,
            "done": found.position,
            "failed": found.failed,
            "percent": found.percent,
            "summary": found.summary,
        }
    )

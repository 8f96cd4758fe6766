"""Attendance pages and the check-in API. Views validate, call one service or selector, and answer."""

import re
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import audit
from accounts.decorators import check_in_devices_required, staff_required
from accounts.models import AuditAction, DeviceKind
from attendance import exports, selectors
from attendance.charts import daily_rate_chart
from attendance.evidence import face_crop
from attendance.forms import UNMARK, ChartRangeForm, CheckInForm, ExportForm, ManualMarkForm
from attendance.models import Method, Status
from attendance.outcomes import Replayed, Result, api_answer
from attendance.services import (
    MarkRefused,
    NoSessionRunning,
    SessionNotServed,
    approve_pending,
    candidate_sessions,
    check_in_by_face,
    mark_manually,
    reject_pending,
    unmark,
)
from attendx import unavailable
from attendx.body_limits import body_limit
from attendx.forms import PageForm, error_status, error_text
from attendx.ratelimit import ratelimit
from attendx.unavailable import answered_unavailable
from faces.exceptions import ImageRejected, RecognitionUnavailable
from faces.storage import private_file_response
from faces.thresholds import thresholds as face_thresholds
from faces.uploads import decode_upload

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RECOGNITION_RETRY_AFTER = 30


def check_in_body_limit() -> int:
    return settings.FACES["MAX_UPLOAD_BYTES"] + settings.REQUEST_BODY_OVERHEAD_BYTES


def check_in_rate(group, request):
    return settings.ATTENDANCE["CHECK_IN_RATE"]


class CheckInRefused(Exception):
    def __init__(self, status: int, code: str, detail: str, retry_after: int | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after
        self.extra = extra or {}  # more fields of the JSON answer


def device_method(request) -> str:
    """How the device of a check-in request sees faces: a registered camera from afar, else a kiosk."""
    device = getattr(request, "device", None)
    return Method.CAMERA if device is not None and device.kind == DeviceKind.CAMERA else Method.FACE


def _check_in(request, method: str = Method.FACE):
    """Validate a check-in request and run it; raise CheckInRefused with the status to answer."""
    form = CheckInForm(request.POST, request.FILES)
    if form.has_error("image"):
        raise CheckInRefused(400, "no_image", _("Send the photo as the `image` field of a multipart form."))
    if form.has_error("session", "does_not_exist"):
        raise CheckInRefused(404, "no_such_session", _("That session does not exist."))
    if form.has_error("session"):
        raise CheckInRefused(400, "bad_session", _("`session` must be a session's id, or left out."))
    key = request.headers.get("Idempotency-Key", "")
    if key and not IDEMPOTENCY_KEY.match(key):
        raise CheckInRefused(400, "bad_idempotency_key", _("Idempotency-Key: 1-128 letters, digits or . _ : -"))
    uploads = request.FILES.getlist("image")
    most = settings.ATTENDANCE["BURST_MAX_FRAMES"]
    if len(uploads) > most:
        detail = _("Send at most %(most)s frames (`image` fields) at a time.") % {"most": most}
        raise CheckInRefused(400, "too_many_frames", detail)
    limit = settings.FACES["MAX_UPLOAD_BYTES"]
    if any(upload.size > limit for upload in uploads):
        detail = _("Photos may be at most %(megabytes).0f MB.") % {"megabytes": limit / 1e6}
        raise CheckInRefused(413, "too_large", detail)
    try:
        frames = [decode_upload(upload.read(), filename=upload.name, frame=True) for upload in uploads]
        return check_in_by_face(
            frames=frames,
            device=request.user,
            session=form.cleaned_data["session"],
            method=method,
            idempotency_key=key,
        )
    except ImageRejected as error:
        raise CheckInRefused(error.status, error.code, error.message) from error
    except NoSessionRunning as error:
        upcoming = error.next_session
        next_session = None
        if upcoming is not None:
            starts = timezone.localtime(upcoming.starts_at).isoformat()
            next_session = {"id": str(upcoming.pk), "title": upcoming.title, "starts_at": starts}
        raise CheckInRefused(409, "no_session", error.message, extra={"next_session": next_session}) from error
    except SessionNotServed as error:
        raise CheckInRefused(403, "session_not_served", error.message) from error
    except RecognitionUnavailable as error:
        answered_unavailable(request, unavailable.RECOGNITION, str(error))
        raise CheckInRefused(
            503, "recognition_unavailable", _("Face recognition is unavailable right now."), RECOGNITION_RETRY_AFTER
        ) from error


@body_limit(check_in_body_limit)
@require_POST
@check_in_devices_required
@ratelimit(rate=check_in_rate, key="user", store_down="local")
def api_check_in(request):
    """Check in the faces of one frame or a short burst of them (``image`` fields, oldest first).

    A face marks a person once enough frames agree (docs/api.md); the answer is that of the last frame.
    """
    try:
        result = _check_in(request, method=device_method(request))
    except CheckInRefused as refused:
        body = {"error": refused.code, "detail": refused.detail, **refused.extra}
        response = JsonResponse(body, status=refused.status)
        if refused.retry_after:
            response["Retry-After"] = str(refused.retry_after)
        return response
    if isinstance(result, Replayed):
        response = JsonResponse(result.body, status=result.status_code)
        response["Idempotent-Replayed"] = "true"
        return response
    status_code, body = api_answer(result)
    return JsonResponse(body, status=status_code)


KIOSK_TONES = {
    Result.CHECKED_IN: "ok",
    Result.CHECKED_OUT: "out",
    Result.ALREADY: "info",
    Result.ENDED: "info",
    Result.REVIEW: "unsure",
    Result.UNKNOWN: "unsure",
}


def kiosk_tone(face: dict) -> str:
    """The colour of a face's answer on the kiosk, as attendance/static/attendance/kiosk.js gives it."""
    if face["result"] == Result.CHECKED_IN and face.get("record", {}).get("status") == Status.LATE:
        return "late"
    return KIOSK_TONES.get(face["result"], "idle")


@body_limit(check_in_body_limit)
@check_in_devices_required
@ratelimit(rate=check_in_rate, key="user", store_down="local")
def kiosk(request):
    """The kiosk screen. Staff also get a photo upload form (method "upload", flagged in the evidence:
    nobody checked that the photo was of a live person); kiosk accounts check in by camera only."""
    try:
        context = {"sessions": candidate_sessions(device=request.user, session=None, moment=timezone.now())}
    except NoSessionRunning as nothing:
        context = {"sessions": [], "no_session": nothing.message}
    if request.method != "POST":
        return render(request, "attendance/kiosk.html", context)
    if request.user.is_kiosk:
        context["outcome"] = {"tone": "bad", "message": _("This kiosk checks people in with its camera only.")}
        return render(request, "attendance/kiosk.html", context, status=403)
    try:
        result = _check_in(request, method=Method.UPLOAD)
    except CheckInRefused as refused:
        tone = "calm" if refused.code == "no_session" else "bad"
        context["outcome"] = {"tone": tone, "message": refused.detail}
        response = render(request, "attendance/kiosk.html", context, status=refused.status)
        if refused.retry_after:
            response["Retry-After"] = str(refused.retry_after)
        return response
    status_code, body = (result.status_code, result.body) if isinstance(result, Replayed) else api_answer(result)
    faces = [{**face, "tone": kiosk_tone(face)} for face in body["faces"]]
    tone = faces[0]["tone"] if len(faces) == 1 else "list" if faces else "calm"
    context["outcome"] = {"tone": tone, "message": body["message"], "faces": faces}
    return render(request, "attendance/kiosk.html", context, status=status_code)


def _refuse(request, form) -> int:
    """Tell the person what was wrong with the input of a page; return the status to answer."""
    messages.error(request, error_text(form))
    return error_status(form)


@staff_required
def session_list(request):
    form = PageForm(request.GET)
    status = 200 if form.is_valid() else _refuse(request, form)
    today = timezone.localdate()
    past = Paginator(selectors.past_sessions(today), 20).get_page(form.cleaned_data.get("page"))
    todays = selectors.day_summaries(today)
    context = {"today": today, "todays": todays, "past": past, "reviews": selectors.open_reviews().count()}
    return render(request, "attendance/session_list.html", context, status=status)


def _session(session_id):
    return get_object_or_404(selectors.sessions_with_group(), pk=session_id)


@staff_required
def session_detail(request, session_id):
    return _session_page(request, _session(session_id))


def _session_page(request, session, *, status=200):
    lines = selectors.roster_for_session(session)
    context = {
        "session": session,
        "lines": lines,
        "summary": selectors.roster_summary(lines),
        "statuses": ManualMarkForm.base_fields["status"].choices,
        "unmark": UNMARK,
        "reasons": selectors.active_absence_reasons(),
        "school": settings.ATTENDANCE["CHECK_OUT_MODE"] == "school",
        "changes": selectors.recent_changes(session),
    }
    return render(request, "attendance/session_detail.html", context, status=status)


@require_POST
@staff_required
def session_mark(request, session_id):
    session = _session(session_id)
    form = ManualMarkForm(request.POST, session=session)
    if not form.is_valid():
        if error_status(form) == 404:
            raise Http404(error_text(form))
        return _session_page(request, session, status=_refuse(request, form))
    person, status = form.cleaned_data["person"], form.cleaned_data["status"]
    if status == UNMARK:
        unmark(session=session, person=person, by=request.user)
        messages.success(request, _("%(person)s is no longer marked.") % {"person": person})
        return redirect("attendance:session", session_id=session.pk)
    try:
        mark_manually(
            session=session,
            person=person,
            status=status,
            by=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            arrived_at=form.cleaned_data["arrived_at"],
        )
    except MarkRefused as refused:
        messages.error(request, refused.message)
        return _session_page(request, session, status=400)
    label = Status(status).label.lower()
    messages.success(request, _("%(person)s marked %(status)s.") % {"person": person, "status": label})
    return redirect("attendance:session", session_id=session.pk)


def _csv_response(filename: str, sessions) -> HttpResponse:
    rows = (row for session in sessions for row in exports.roster_rows(session, selectors.roster_for_session(session)))
    return exports.csv_response(filename, rows)


@staff_required
def session_export(request, session_id):
    session = _session(session_id)
    day = timezone.localtime(session.starts_at).date()
    response = _csv_response(f"attendance-{day}-{session.pk}.csv", [session])
    audit(action=AuditAction.EXPORTED, actor=request.user, export="session", session=str(session.pk))
    return response


@staff_required
def range_export(request):
    form = ExportForm(request.GET or None)
    if not request.GET:
        return render(request, "attendance/export.html", {"form": form})
    if not form.is_valid():
        return render(request, "attendance/export.html", {"form": form}, status=error_status(form))
    start, end, group = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["group"]
    sessions = selectors.sessions_between(start, end, group=group)
    response = _csv_response(f"attendance-{start}-to-{end}.csv", sessions)
    group = str(group.pk) if group is not None else ""
    audit(action=AuditAction.EXPORTED, actor=request.user, export="range", start=str(start), end=str(end), group=group)
    return response


WORKED_WEEKS = 8  # the history page shows the time worked in this week and the seven before


def _history_page(request, person):
    history = selectors.person_history(person)
    today = timezone.localdate()
    first = today - timedelta(days=today.weekday() + 7 * (WORKED_WEEKS - 1))
    context = {
        "person": person,
        "history": history,
        "weeks": selectors.worked_hours(person, start=first, end=today),
        "weeks_before": WORKED_WEEKS - 1,
        "school": settings.ATTENDANCE["CHECK_OUT_MODE"] == "school",
    }
    return render(request, "attendance/history.html", context)


def my_history(request):
    return _history_page(request, request.user)


@staff_required
def person_history(request, person_id):
    return _history_page(request, get_object_or_404(selectors.people(), pk=person_id))


@staff_required
def group_list(request):
    return render(request, "attendance/group_list.html", {"groups": selectors.group_list(request.user)})


@staff_required
def group_detail(request, group_id):
    group = get_object_or_404(selectors.visible_groups(request.user), pk=group_id)
    form = ChartRangeForm(request.GET)
    if not form.is_valid():
        status = _refuse(request, form)
        return render(request, "attendance/group_detail.html", {"group": group, "form": form}, status=status)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    points = selectors.daily_attendance_rates(group, start=start, end=end)
    chart = daily_rate_chart(points)
    context = {"group": group, "form": form, "points": points, "chart": chart, "start": start, "end": end}
    return render(request, "attendance/group_detail.html", context)


@staff_required
def review_list(request):
    items = selectors.review_items(face_thresholds().review)
    not_live = selectors.recent_not_live()
    context = {"items": items, "not_live": not_live, "evidence_days": settings.RETENTION["NOT_LIVE_DAYS"]}
    return render(request, "attendance/review_list.html", context)


@require_POST
@staff_required
def review_decide(request, pending_id, decision):
    pending = get_object_or_404(selectors.open_reviews(), pk=pending_id)
    if decision == "approve":
        record, created = approve_pending(pending=pending, by=request.user)
        if created:
            marked = {"person": pending.candidate, "session": pending.session}
            messages.success(request, _("%(person)s marked at %(session)s.") % marked)
        else:
            when = time_format(timezone.localtime(record.marked_at), "H:i")
            status = record.get_status_display().lower()
            messages.info(
                request,
                _("%(person)s was already checked in at %(time)s (%(status)s): nothing changed.")
                % {"person": pending.candidate, "time": when, "status": status},
            )
    else:
        reject_pending(pending=pending, by=request.user)
        messages.info(request, _("Check-in rejected."))
    return redirect("attendance:reviews")


@staff_required
def record_detail(request, record_id):
    """One mark: who, when, how; for a face mark its evidence (the face, distances, agreeing frames)."""
    record = get_object_or_404(selectors.records_with_details(), pk=record_id)
    seen = selectors.record_evidence(record)
    context = {
        "record": record,
        "evidence": seen.evidence,
        "frames": seen.frames,
        "evidence_days": settings.RETENTION["EVIDENCE_DAYS"],
        "kept_until": seen.kept_until,
        "worked": seen.worked,
    }
    return render(request, "attendance/record_detail.html", context)


@staff_required
def record_face(request, record_id):
    evidence = get_object_or_404(selectors.evidence_with_person(), record_id=record_id)
    response = private_file_response(evidence.face, "image/jpeg")
    audit(action=AuditAction.VIEWED_EVIDENCE, actor=request.user, subject=evidence.record.person, record=str(record_id))
    return response


@staff_required
def review_frame(request, pending_id):
    pending = get_object_or_404(selectors.reviews_with_candidate(), pk=pending_id)
    response = private_file_response(pending.frame)
    audit(
        action=AuditAction.VIEWED_REVIEW_FRAME, actor=request.user, subject=pending.candidate, pending=str(pending.pk)
    )
    return response


@staff_required
def not_live_face(request, attempt_id):
    attempt = get_object_or_404(selectors.not_live_attempts(), pk=attempt_id)
    response = private_file_response(attempt.face, "image/jpeg")
    audit(action=AuditAction.VIEWED_EVIDENCE, actor=request.user, subject=attempt.candidate, not_live=str(attempt.pk))
    return response


@staff_required
def review_face(request, pending_id):
    """The face alone, cut from the review's frame (which is kept; the crop is made on request)."""
    pending = get_object_or_404(selectors.reviews_with_candidate(), pk=pending_id)
    if not pending.frame.name:
        raise Http404("No frame.")
    try:
        with pending.frame.open("rb") as handle:
            rgb = decode_upload(handle.read(), frame=True).rgb
    except FileNotFoundError:
        raise Http404("The frame is gone.") from None
    except ImageRejected:
        raise Http404("The frame cannot be read.") from None
    response = HttpResponse(face_crop(rgb, tuple(pending.box)), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    audit(
        action=AuditAction.VIEWED_REVIEW_FRAME, actor=request.user, subject=pending.candidate, pending=str(pending.pk)
    )
    return response

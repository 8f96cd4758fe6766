"""Project-level pages: the dashboard, the health probes, the error pages and /favicon.ico."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from attendx import unavailable
from attendx.cache import get_redis_client
from attendx.db import is_reachable
from attendx.refusals import wants_json
from attendx.unavailable import answered_unavailable
from faces.calibration_runs import calibration_due
from faces.pipeline import descriptor_status
from faces.reembedding import gallery_status
from faces.weights import missing_weights


def home(request):
    """The dashboard; staff are warned when the face thresholds need calibrating (faces.calibration_runs)."""
    due = calibration_due() if getattr(request.user, "is_staff_member", False) else None
    return render(request, "home.html", {"calibration_due": due})


@require_GET
def retention(request):
    """What is kept and for how long, from settings.RETENTION; anyone signed in (kiosks are kept out by
    accounts.middleware.KioskRestrictionMiddleware)."""
    return render(request, "retention.html", {"retention": settings.RETENTION})


@login_not_required
@require_GET
@never_cache
def healthz(request):
    """The process is alive; nothing else is checked."""
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
@require_GET
@never_cache
def readyz(request):
    """Ready to serve: database and face weights are required; Redis is reported, not required."""
    missing = missing_weights(settings.DEEPFACE_HOME)
    checks = {
        "database": "ok" if is_reachable() else "unavailable",
        "redis": "ok" if get_redis_client().is_connected else "unavailable (running without Redis caching)",
        "face_weights": "ok" if not missing else "missing: " + ", ".join(path.name for path in missing),
        "face_descriptor": descriptor_status(),  # reported, not required: dlib's inference is the fallback
    }
    if checks["database"] == "ok":
        # Reported, not required: after a pipeline change the old samples wait for reembed_faces.
        checks["face_gallery"] = gallery_status()
    ready = checks["database"] == "ok" and not missing
    if ready:
        unavailable.note_available(unavailable.READINESS)
    else:
        failing = ", ".join(f"{name} {checks[name]}" for name in ("database", "face_weights") if checks[name] != "ok")
        answered_unavailable(request, unavailable.READINESS, failing)
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


@login_not_required
@require_GET
def favicon(request):
    """Browsers and kiosks ask for /favicon.ico whatever a page links: the SVG, for good."""
    # Its plain name, not the hashed one of the manifest: a permanent redirect outlives a new favicon.
    return HttpResponsePermanentRedirect(settings.STATIC_URL + "favicon.svg")


# Errors no view answered itself (attendx.urls: handler400, ...): a page for people; for the API and JSON
# clients the API's shape, {"error": code, "detail": text}, with the codes Django REST framework's give.


def bad_request(request, exception):
    if wants_json(request):
        return JsonResponse({"error": "bad_request", "detail": _("The request could not be understood.")}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if wants_json(request):
        detail = _("You do not have permission to perform this action.")
        return JsonResponse({"error": "permission_denied", "detail": detail}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if wants_json(request):
        return JsonResponse({"error": "not_found", "detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500.html is rendered without a request, so that a broken context cannot break the error page too."""
    if wants_json(request):
        detail = _("Something went wrong on our side. Please try again in a moment.")
        return JsonResponse({"error": "server_error", "detail": detail}, status=500)
    return defaults.server_error(request)

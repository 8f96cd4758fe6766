"""The project's URLs plus views that exist only to test shared mechanisms."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path

from attendx.ratelimit import rate_from_setting, ratelimit
from attendx.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the project's error pages)
from attendx.urls import urlpatterns as project_urlpatterns


@login_not_required
@ratelimit(key="ip", rate=rate_from_setting("TEST_LIMITED_RATE"), method=("GET", "POST"))
def limited(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    *project_urlpatterns,
    path("test/limited", limited, name="test-limited"),
    path("api/test/limited", limited, name="test-limited-api"),
]

from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import device_api, device_views
from attendance import views as attendance_views
from attendx import views
from attendx.admin import view_on_site
from attendx.converters import ObjectKeyConverter

register_converter(ObjectKeyConverter, "key")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("readyz", views.readyz, name="readyz"),
    path("privacy/retention/", views.retention, name="retention"),
    path("i18n/", include("accounts.i18n_urls")),
    path("accounts/", include("accounts.urls")),
    path("faces/", include("faces.urls")),
    path("attendance/", include("attendance.urls")),
    path("kiosk/", device_views.locked_kiosk, name="kiosk-locked"),
    path("api/check-ins", attendance_views.api_check_in, name="api-check-in"),
    path("api/v1/", include("attendx.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/devices/pair", device_api.pair_device, name="api-device-pair"),
    path("api/v1/devices/me", device_api.device_me, name="api-device-me"),
    path("api/v1/devices/me/unlock", device_api.device_unlock, name="api-device-unlock"),
    path("admin/r/<str:content_type_id>/<str:object_id>/", view_on_site, name="admin-view-on-site"),
    path("admin/", admin.site.urls),
    path("i18n/", include("accounts.i18n_urls")),
]

# Styled pages for people, JSON for the API and JSON clients (attendx.views).
handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error

from django.contrib import admin
from django.urls import include, path, register_converter

from attendance import views as attendance_views
from attendx import views
from attendx.admin import view_on_site
from attendx.converters import ObjectKeyConverter

register_converter(ObjectKeyConverter, "key")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("faces/", include("faces.urls")),
    path("attendance/", include("attendance.urls")),
    path("api/check-ins", attendance_views.api_check_in, name="api-check-in"),
    path("admin/r/<str:content_type_id>/<str:object_id>/", view_on_site, name="admin-view-on-site"),
    path("admin/", admin.site.urls),
]

from django.contrib import admin
from django.urls import include, path, register_converter

from attendx import views
from attendx.converters import ObjectKeyConverter

register_converter(ObjectKeyConverter, "key")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("faces/", include("faces.urls")),
    path("admin/", admin.site.urls),
]

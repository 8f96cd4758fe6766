"""The URLs of /api/v1/, named ``api-v1:<name>``: the apps' viewsets on one router, without trailing slashes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import PersonViewSet
from attendance.api import (
    CheckInView,
    GroupViewSet,
    PinCheckInView,
    QrCheckInView,
    RecordExportView,
    RecordViewSet,
    SessionViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("people", PersonViewSet, basename="person")
router.register("groups", GroupViewSet, basename="group")
router.register("sessions", SessionViewSet, basename="session")
router.register("records", RecordViewSet, basename="record")

app_name = "api-v1"
urlpatterns = [
    *router.urls,
    path("check-ins", CheckInView.as_view(), name="check-in"),
    path("check-ins/pin", PinCheckInView.as_view(), name="check-in-pin"),
    path("check-ins/qr", QrCheckInView.as_view(), name="check-in-qr"),
    path("exports/records", RecordExportView.as_view(), name="export-records"),
]

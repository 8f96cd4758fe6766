from django.urls import path

from faces import views

app_name = "faces"

urlpatterns = [
    path("enroll/", views.enroll_self, name="enroll-self"),
    path("people/", views.people, name="people"),
    path("calibration/", views.calibration, name="calibration"),
    path("people/<key:person_id>/enroll/", views.enroll_person, name="enroll-person"),
    path("samples/<key:sample_id>/image/", views.sample_image, name="sample-image"),
    path("samples/<key:sample_id>/delete/", views.sample_delete, name="sample-delete"),
]

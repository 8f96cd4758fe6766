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
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/enroll/", views.bulk_enroll, name="bulk-enroll"),
    path("jobs/reembed/", views.reembed, name="reembed"),
    path("jobs/<key:job_id>/", views.job, name="job"),
    path("jobs/<key:job_id>/progress/", views.job_progress, name="job-progress"),
]

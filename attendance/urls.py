from django.urls import path

from attendance import fallback_views, group_views, register_views, views, webhook_views

app_name = "attendance"

urlpatterns = [
    path("", views.session_list, name="sessions"),
    path("kiosk/", views.kiosk, name="kiosk"),
    path("sessions/<key:session_id>/", views.session_detail, name="session"),
    path("sessions/<key:session_id>/mark/", views.session_mark, name="session-mark"),
    path("sessions/<key:session_id>/export.csv", views.session_export, name="session-export"),
    path("records/<key:record_id>/", views.record_detail, name="record"),
    path("records/<key:record_id>/face.jpg", views.record_face, name="record-face"),
    path("export/", views.range_export, name="export"),
    path("me/", views.my_history, name="my-history"),
    path("people/<key:person_id>/", views.person_history, name="person-history"),
    path("people/<key:person_id>/check-in/", fallback_views.credential, name="check-in-credential"),
    path("groups/", views.group_list, name="groups"),
    path("groups/<key:group_id>/", views.group_detail, name="group"),
    path("review/", views.review_list, name="reviews"),
    path("review/<key:pending_id>/frame/", views.review_frame, name="review-frame"),
    path("review/<key:pending_id>/face.jpg", views.review_face, name="review-face"),
    path("review/not-live/<key:attempt_id>/face.jpg", views.not_live_face, name="not-live-face"),
    path("review/<key:pending_id>/approve/", views.review_decide, {"decision": "approve"}, name="review-approve"),
    path("review/<key:pending_id>/reject/", views.review_decide, {"decision": "reject"}, name="review-reject"),
]

# Webhooks (docs/webhooks.md); their views have a module of their own.

urlpatterns += [
    path("webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("webhooks/<key:endpoint_id>/", webhook_views.webhook_detail, name="webhook"),
    path("webhooks/<key:endpoint_id>/rotate-secret/", webhook_views.webhook_rotate_secret, name="webhook-rotate"),
    path("webhooks/<key:endpoint_id>/active/", webhook_views.webhook_set_active, name="webhook-active"),
]

# Groups staff run themselves: members, sessions, weekly timetables, holidays (attendance.group_views).

urlpatterns += [
    path("groups/new/", group_views.group_new, name="group-new"),
    path("groups/<key:group_id>/edit/", group_views.group_edit, name="group-edit"),
    path("groups/<key:group_id>/members/", group_views.group_members, name="group-members"),
    path("groups/<key:group_id>/sessions/new/", group_views.session_new, name="group-session-new"),
    path("groups/<key:group_id>/timetable/", group_views.timetable, name="group-timetable"),
    path("timetable/<key:entry_id>/edit/", group_views.timetable_edit, name="timetable-edit"),
    path("timetable/<key:entry_id>/delete/", group_views.timetable_delete, name="timetable-delete"),
    path("holidays/", group_views.holidays, name="holidays"),
    path("holidays/<key:holiday_id>/delete/", group_views.holiday_delete, name="holiday-delete"),
]

# Printable registers and reports (docs/operations.md, "Printable registers").

urlpatterns += [
    path("groups/<key:group_id>/register/", register_views.group_register, name="group-register"),
    path("people/<key:person_id>/report/", register_views.person_report, name="person-report"),
    path("me/report/", register_views.my_report, name="my-report"),
]

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import consent_views, device_views, import_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("import/", import_views.import_people, name="import-people"),
    path("import/template.csv", import_views.import_template, name="import-template"),
    path("devices/", device_views.device_list, name="devices"),
    path("devices/<key:device_id>/", device_views.device_detail, name="device"),
    path("devices/<key:device_id>/tokens/", device_views.device_issue_token, name="device-issue-token"),
    path("devices/<key:device_id>/tokens/rotate/", device_views.device_rotate_tokens, name="device-rotate-tokens"),
    path(
        "devices/<key:device_id>/tokens/<key:token_id>/revoke/",
        device_views.device_revoke_token,
        name="device-revoke-token",
    ),
    path("devices/<key:device_id>/pair/", device_views.device_pair, name="device-pair"),
    path("consent/", consent_views.consent_self, name="consent"),
    path("consent/withdraw/", consent_views.withdraw_self, name="consent-withdraw"),
    path("my-data/", consent_views.my_data, name="my-data"),
    path("people/<key:person_id>/consent/paper/", consent_views.consent_paper, name="consent-paper"),
    path("people/<key:person_id>/consent/withdraw/", consent_views.withdraw_person, name="consent-withdraw-person"),
    path("people/<key:person_id>/data/", consent_views.person_data, name="person-data"),
]

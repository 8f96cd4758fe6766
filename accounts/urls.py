from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import device_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
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
]

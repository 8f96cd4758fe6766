from django.contrib.auth import views as auth_views
from django.shortcuts import resolve_url

from accounts.forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        if self.request.user.is_kiosk:
            return resolve_url("attendance:kiosk")
        return super().get_default_redirect_url()

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.sign_in_wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.sign_in_wait.seconds)
        return response

"""Sign in with a username or an email address (any letter case of it)."""

from django.contrib.auth.backends import ModelBackend

from accounts.selectors import account_for_login


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        # The same lookup names the account whose failures django-axes counts (accounts.lockout).
        account = account_for_login(username) if username else None
        if account is not None:
            username = account.get_username()
        return super().authenticate(request, username=username, password=password, **kwargs)

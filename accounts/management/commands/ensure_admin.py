"""Create the first administrator when none exists, and say how to sign in.

The password comes from ATTENDX_ADMIN_PASSWORD, or is generated and printed once.
"""

import os
import secrets

from django.core.management.base import BaseCommand

from accounts.models import Role, User


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("ATTENDX_ADMIN_USERNAME", "admin"))
        parser.add_argument("--login-url", default="http://127.0.0.1:10000/accounts/login/")

    def handle(self, *args, username, login_url, **options):
        if User.objects.filter(role=Role.ADMIN, is_active=True).exists():
            self.stdout.write(
                f"An administrator exists. Sign in at {login_url} "
                f"(forgotten password: python manage.py changepassword {username})."
            )
            return
        password = os.environ.get("ATTENDX_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, password=password)
        self.stdout.write(self.style.SUCCESS("Created the first administrator."))
        self.stdout.write(f"  Sign in at {login_url}")
        self.stdout.write(f"  username: {username}")
        self.stdout.write(f"  password: {password}")
        self.stdout.write("  (shown once; change it with `python manage.py changepassword " + username + "`)")

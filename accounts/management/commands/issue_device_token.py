"""Print a new bearer token for the device NAME, once: it is stored only as a digest.

The device's earlier tokens keep working unless --rotate revokes them. --create registers the device
first (a camera on another host is set up this way, without the staff pages):

    python manage.py issue_device_token entrance-camera --create --kind camera --location "Main entrance"
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.devices import issue_token, register_device
from accounts.models import Device, DeviceKind, Liveness


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--rotate", action="store_true", help="revoke the device's earlier tokens")
        parser.add_argument("--create", action="store_true", help="register the device when it does not exist")
        parser.add_argument("--kind", choices=DeviceKind.values, default=DeviceKind.KIOSK)
        parser.add_argument("--location", default="")
        parser.add_argument("--liveness", choices=Liveness.values, default="", help="blank: the site's default")

    def handle(self, *args, name, rotate, create, kind, location, liveness, **options):
        device = Device.objects.filter(name=name).first()
        if device is None and not create:
            raise CommandError(f"No device is called {name!r}: register it on the staff Devices page, or add --create.")
        if device is None:
            try:
                device = register_device(name=name, kind=kind, location=location, liveness=liveness)
            except IntegrityError as error:
                raise CommandError(f"Cannot register {name!r}: its account name is taken ({error}).") from error
            self.stderr.write(f"Registered the {device.get_kind_display().lower()} {name!r}.")
        issued = issue_token(device=device, replace=rotate)
        if rotate:
            self.stderr.write("Its earlier tokens are revoked.")
        self.stderr.write(f"Token {issued.token.prefix} for {name!r}; shown once, keep it secret:")
        self.stdout.write(issued.secret)

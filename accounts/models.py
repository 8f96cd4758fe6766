"""People and devices: one user model with the roles a school or a company needs."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    STAFF = "staff", "Staff"
    MEMBER = "member", "Member"
    KIOSK = "kiosk", "Kiosk device"


STAFF_ROLES = frozenset({Role.ADMIN, Role.STAFF})


class Liveness(models.TextChoices):
    """How a device proves a face is a live person (docs/liveness.md)."""

    OFF = "off", "Off"
    PASSIVE = "passive", "Passive, with a challenge when unsure"
    CHALLENGE = "challenge", "Always a challenge"


class AttendXUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)

    def members(self):
        return self.filter(role=Role.MEMBER)


class User(AbstractUser):
    """A person or a device.

    Admins and staff use the Django admin; members are attendees (many never log in and have no
    usable password); kiosks are device accounts that may only submit check-ins.
    """

    # Unique when given; members such as pupils may have no address at all.
    email = models.EmailField("email address", unique=True, null=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    liveness = models.CharField(
        max_length=16,
        choices=Liveness.choices,
        blank=True,
        help_text="kiosks and cameras: how faces are checked for a live person; blank: ATTENDANCE['LIVENESS']",
    )

    objects = AttendXUserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower() if self.email else None
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)

    @property
    def is_kiosk(self) -> bool:
        return self.role == Role.KIOSK

    @property
    def is_staff_member(self) -> bool:
        return self.role in STAFF_ROLES


class SessionCacheEpochQuerySet(models.QuerySet):
    NAME = "sessions"

    def current(self) -> int:
        epoch, _ = self.get_or_create(name=self.NAME)
        return epoch.value

    def bump(self) -> int:
        self.get_or_create(name=self.NAME)
        self.filter(name=self.NAME).update(value=F("value") + 1)
        return self.get(name=self.NAME).value


class SessionCacheEpoch(models.Model):
    """A counter in every session cache key; bumping it orphans all cached sessions (see sessions.py)."""

    name = models.CharField(max_length=32, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    objects = SessionCacheEpochQuerySet.as_manager()

    def __str__(self):
        return f"{self.name} epoch {self.value}"

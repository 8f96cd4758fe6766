"""People and devices: one user model with the roles a school or a company needs, and the kiosks and
cameras staff register, each with its own credentials (accounts.devices)."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F, Q


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


class DeviceKind(models.TextChoices):
    KIOSK = "kiosk", "Kiosk (a browser with a webcam)"
    CAMERA = "camera", "IP camera"


class Device(models.Model):
    """A kiosk or a camera registered by staff. It checks in under its own kiosk account, with a token
    (DeviceToken) rather than a password, and only to the sessions it serves."""

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=16, choices=DeviceKind.choices, default=DeviceKind.KIOSK)
    location = models.CharField(max_length=120, blank=True, help_text="where it stands, e.g. Main entrance")
    groups = models.ManyToManyField(
        "attendance.Group", blank=True, related_name="devices", help_text="it serves these groups' sessions"
    )
    sessions = models.ManyToManyField(
        "attendance.Session", blank=True, related_name="devices", help_text="and these sessions"
    )
    account = models.OneToOneField(User, on_delete=models.PROTECT, related_name="device", editable=False)
    exit_pin = models.CharField(max_length=128, blank=True, editable=False, help_text="hashed; blank: none set")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def serves(self, sessions: models.QuerySet) -> models.QuerySet:
        """``sessions`` narrowed to this device's: its sessions and its groups' sessions, or all of them
        when it has neither; a camera with a location, only those at exactly that location (as the
        cameras of attendance.cameras)."""
        if self.kind == DeviceKind.CAMERA and self.location:
            sessions = sessions.filter(location=self.location)
        groups = [group.pk for group in self.groups.all()]
        chosen = [session.pk for session in self.sessions.all()]
        if not groups and not chosen:
            return sessions
        return sessions.filter(Q(group__in=groups) | Q(pk__in=chosen))

    def serves_session(self, session) -> bool:
        return self.serves(type(session).objects.filter(pk=session.pk)).exists()


class DeviceTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class DeviceToken(models.Model):
    """A device's bearer credential. Only its SHA-256 is stored: the token is shown once, when issued."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=16, help_text="the token's public part, to tell tokens apart")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = DeviceTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.device} token {self.prefix}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PairingCode(models.Model):
    """A short one-time code that pairs a kiosk browser with its device; stored as its SHA-256."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="pairing_codes")
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"pairing code for {self.device}"

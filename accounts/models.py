"""People and devices: one user model with the roles a school or a company needs, and the kiosks and
cameras staff register, each with its own credentials (accounts.devices)."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    STAFF = "staff", _("Staff")
    MEMBER = "member", _("Member")
    KIOSK = "kiosk", _("Kiosk device")


STAFF_ROLES = frozenset({Role.ADMIN, Role.STAFF})


class Liveness(models.TextChoices):
    """How a device proves a face is a live person (docs/liveness.md)."""

    OFF = "off", _("Off")
    PASSIVE = "passive", _("Passive, with a challenge when unsure")
    CHALLENGE = "challenge", _("Always a challenge")


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
    email = models.EmailField(_("email address"), unique=True, null=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    liveness = models.CharField(
        max_length=16,
        choices=Liveness.choices,
        blank=True,
        help_text=_("kiosks and cameras: how faces are checked for a live person; blank: ATTENDANCE['LIVENESS']"),
    )
    # A school's or an employer's own id (pupil number, payroll number): what imports match on.
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("e.g. a pupil or payroll number"),
    )
    contact_email = models.EmailField(
        _("guardian or manager email"), blank=True, help_text=_("told when the person is absent or late (per group)")
    )
    # When the account was deactivated (the person left): their templates are kept RETENTION days after.
    left_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AttendXUserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower() if self.email else None
        self.external_id = self.external_id.strip() if self.external_id else None
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        if self.is_active:
            self.left_at = None
        elif self.left_at is None:
            self.left_at = timezone.now()
        if kwargs.get("update_fields") is not None and "is_active" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "left_at"}
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
    KIOSK = "kiosk", _("Kiosk (a browser with a webcam)")
    CAMERA = "camera", _("IP camera")


class Device(models.Model):
    """A kiosk or a camera registered by staff. It checks in under its own kiosk account, with a token
    (DeviceToken) rather than a password, and only to the sessions it serves."""

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=16, choices=DeviceKind.choices, default=DeviceKind.KIOSK)
    location = models.CharField(max_length=120, blank=True, help_text=_("where it stands, e.g. Main entrance"))
    groups = models.ManyToManyField(
        "attendance.Group", blank=True, related_name="devices", help_text=_("it serves these groups' sessions")
    )
    sessions = models.ManyToManyField(
        "attendance.Session", blank=True, related_name="devices", help_text=_("and these sessions")
    )
    account = models.OneToOneField(User, on_delete=models.PROTECT, related_name="device", editable=False)
    exit_pin = models.CharField(max_length=128, blank=True, editable=False, help_text=_("hashed; blank: none set"))
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
    prefix = models.CharField(max_length=16, help_text=_("the token's public part, to tell tokens apart"))
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


class ConsentText(models.Model):
    """A version of the consent text people agree to before a face is enrolled; the highest version is
    the one in force (accounts.consent)."""

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=160, default=_("Consent to face recognition for attendance"))
    body = models.TextField(help_text=_("what is collected, why, for how long, and how to withdraw"))
    published_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"consent text v{self.version}"


class ConsentGiver(models.TextChoices):
    PERSON = "person", _("The person")
    GUARDIAN = "guardian", _("A parent or guardian (minor)")


class ConsentMethod(models.TextChoices):
    SCREEN = "screen", _("On screen")
    PAPER = "paper", _("Signed paper form on file")


class Consent(models.Model):
    """One person's consent to one version of the text: who gave it, how, when; and its withdrawal."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="consents")
    given_by = models.CharField(max_length=16, choices=ConsentGiver.choices, default=ConsentGiver.PERSON)
    giver_name = models.CharField(max_length=160, help_text=_("the name of whoever consented (the guardian's)"))
    method = models.CharField(max_length=16, choices=ConsentMethod.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("the staff member who recorded a paper form, or the person on screen"),
    )
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-given_at"]
        indexes = [models.Index(fields=["person", "given_at"])]

    def __str__(self):
        return f"consent of {self.person} to {self.text}"


class AuditAction(models.TextChoices):
    VIEWED_PHOTO = "viewed_photo", _("Viewed an enrolled face photo")
    VIEWED_REVIEW_FRAME = "viewed_review_frame", _("Viewed a review frame")
    VIEWED_EVIDENCE = "viewed_evidence", _("Viewed an evidence crop")
    EXPORTED = "exported", _("Exported attendance")
    ERASED = "erased", _("Erased biometric data")
    CONSENT_GIVEN = "consent_given", _("Recorded consent")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Withdrew consent")
    ACCESS_REQUEST = "access_request", _("Downloaded a person's data")
    KEYS_ROTATED = "keys_rotated", _("Re-encrypted face data with the current key")
    CHECK_IN_PIN_SET = "check_in_pin_set", _("Set a check-in PIN")
    CHECK_IN_QR_ISSUED = "check_in_qr_issued", _("Issued a QR check-in card")


class AuditEvent(models.Model):
    """Who did what to whose personal data, when. Never holds biometric data: names, counts, ids."""

    action = models.CharField(max_length=32, choices=AuditAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    actor_name = models.CharField(max_length=160, blank=True, help_text=_("kept when the account is gone"))
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    subject_name = models.CharField(max_length=160, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text=_("what, in counts and ids"))
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.actor_name or 'system'} {self.action} {self.subject_name}".strip()

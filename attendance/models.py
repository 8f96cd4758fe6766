"""Groups, sessions and attendance records with their evidence; pending check-ins waiting for a staff
decision; IP cameras.

One record per person per session is a database constraint, never a "check, then insert".
"""

import secrets
import uuid
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from faces.storage import private_face_storage


class Group(models.Model):
    """A class, a team: the people expected at its sessions."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="attendance_groups", blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_groups",
        help_text=_("the teacher or manager who runs it; staff see the groups they own, administrators all"),
    )
    # Notifications (attendance.notifications): to each member's guardian or manager (User.contact_email).
    notify_absent = models.BooleanField(_("email when absent"), default=False)
    notify_late = models.BooleanField(_("email when late"), default=False)
    rate_alert_below = models.PositiveSmallIntegerField(
        _("alert below (%)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text=_("email the owner when a member's attendance rate falls below this; blank: no alert"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Timetable(models.Model):
    """A weekly lesson or shift of a group within a term: its sessions are generated ahead
    (attendance.timetables), skipping holidays."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="timetables")
    title = models.CharField(max_length=160)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField("starts at")
    ends_at = models.TimeField("ends at")
    location = models.CharField(max_length=120, blank=True)
    late_after_minutes = models.PositiveSmallIntegerField(default=10)
    first_day = models.DateField("term starts")
    last_day = models.DateField("term ends")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group__name", "weekday", "starts_at"]

    def __str__(self):
        return f"{self.title}, {self.get_weekday_display()} {self.starts_at:%H:%M}"

    def clean(self):
        super().clean()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A lesson ends after it starts."})
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": "The term ends on or after its first day."})


class Holiday(models.Model):
    """Days without timetabled sessions, for every group: a half-term, a bank holiday."""

    name = models.CharField(max_length=120)
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        ordering = ["first_day"]

    def __str__(self):
        return f"{self.name} ({self.first_day} to {self.last_day})"

    def clean(self):
        super().clean()
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": "A holiday ends on or after its first day."})


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the organisation's time zone."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()), timezone.get_current_timezone())


class SessionQuerySet(models.QuerySet):
    def running_at(self, moment):
        """Sessions open for check-in at ``moment``: from a few minutes before the start to the end."""
        early = timedelta(minutes=settings.ATTENDANCE["CHECK_IN_OPENS_MINUTES_BEFORE"])
        return self.filter(starts_at__lte=moment + early, ends_at__gte=moment)

    def open_for_scans_at(self, moment):
        """Sessions a scan at ``moment`` may touch: those running, and in the "workplace" check-out mode
        also those that ended within CHECK_OUT_HOURS_AFTER_END, where a scan only checks somebody out."""
        running = self.running_at(moment)
        if settings.ATTENDANCE["CHECK_OUT_MODE"] != "workplace":
            return running
        after_end = timedelta(hours=settings.ATTENDANCE["CHECK_OUT_HOURS_AFTER_END"])
        return running | self.filter(ends_at__lt=moment, ends_at__gte=moment - after_end)

    def between(self, start: date | None, end: date | None):
        """Sessions starting on the days from ``start`` to ``end``, both included, as days of the
        organisation's time zone (dates, not datetimes); None leaves that end open."""
        sessions = self
        if start is not None:
            sessions = sessions.filter(starts_at__gte=day_start(start))
        if end is not None:
            sessions = sessions.filter(starts_at__lt=day_start(end + timedelta(days=1)))
        return sessions


class Session(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=160)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    late_after_minutes = models.PositiveSmallIntegerField(
        default=10, help_text=_("Arrivals more than this many minutes after the start are late.")
    )
    location = models.CharField(max_length=120, blank=True)
    timetable = models.ForeignKey(
        Timetable,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        help_text=_("the weekly timetable it was generated from; blank: scheduled on its own"),
    )

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["starts_at"]), models.Index(fields=["location", "starts_at"])]
        constraints = [
            # Generating a timetable ahead twice (or from two workers) makes each session once.
            models.UniqueConstraint(fields=["timetable", "starts_at"], name="attendance_one_session_per_slot")
        ]

    def __str__(self):
        return f"{self.title} ({timezone.localtime(self.starts_at):%Y-%m-%d %H:%M})"

    @property
    def late_from(self):
        return self.starts_at + timedelta(minutes=self.late_after_minutes)

    def status_for_arrival(self, moment) -> str:
        return Status.LATE if moment > self.late_from else Status.PRESENT

    def has_ended(self, moment=None) -> bool:
        return (moment or timezone.now()) > self.ends_at


class Status(models.TextChoices):
    PRESENT = "present", _("Present")
    LATE = "late", _("Late")
    EXCUSED = "excused", _("Excused")
    # Marked absent by hand, with a reason; a person with no record at an ended session is absent too.
    ABSENT = "absent", _("Absent")


class AbsenceReason(models.Model):
    """Why a person was not there: illness, authorised, unauthorised, and any the administrators add.
    An excusing reason counts the person as excused on the day list and in exports."""

    code = models.SlugField(max_length=32, unique=True)
    label = models.CharField(max_length=80)
    excused = models.BooleanField(default=True, help_text=_("counts the person as excused rather than absent"))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label


class Method(models.TextChoices):
    FACE = "face", _("Face (kiosk)")
    CAMERA = "camera", _("IP camera")
    UPLOAD = "upload", _("Photo upload (staff)")
    MANUAL = "manual", _("Manual")
    PIN = "pin", _("PIN at a kiosk (no biometrics)")
    QR = "qr", _("QR code at a kiosk (no biometrics)")


class Record(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="records")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendance_records")
    status = models.CharField(max_length=16, choices=Status.choices)
    # When the person arrived (a manual mark may give it); the time of a later edit is edited_at.
    marked_at = models.DateTimeField(_("arrived at"), default=timezone.now)
    checked_out_at = models.DateTimeField(
        _("left at"), null=True, blank=True, help_text=_("a second scan: checked out, or left before the end")
    )
    reason = models.ForeignKey(AbsenceReason, on_delete=models.PROTECT, null=True, blank=True, related_name="records")
    edited_at = models.DateTimeField(null=True, blank=True, help_text=_("when a staff member last changed it by hand"))
    method = models.CharField(max_length=16, choices=Method.choices)
    distance = models.FloatField(null=True, blank=True, help_text=_("face distance, for face and camera marks"))
    device = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("the staff member who marked it by hand or approved it from review"),
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["marked_at"]
        constraints = [models.UniqueConstraint(fields=["session", "person"], name="attendance_one_record_per_person")]

    def __str__(self):
        return f"{self.person} {self.status} at {self.session}"


def evidence_upload_to(evidence, filename):
    return f"evidence/{timezone.now():%Y/%m/%d}/{filename}"


class EvidenceQuerySet(models.QuerySet):
    def expired(self, moment=None):
        days = settings.RETENTION["EVIDENCE_DAYS"]
        return self.filter(created_at__lte=(moment or timezone.now()) - timedelta(days=days))


class Evidence(models.Model):
    """Why a face mark was made: the face as the deciding frame showed it, and the frames that agreed.

    Kept RETENTION["EVIDENCE_DAYS"] days (manage.py purge deletes it and its crop); the record stays.
    """

    record = models.OneToOneField(Record, on_delete=models.CASCADE, related_name="evidence")
    face = models.FileField(storage=private_face_storage, upload_to=evidence_upload_to, max_length=255)
    distance = models.FloatField(help_text=_("to the nearest enrolled sample of the person"))
    margin = models.FloatField(null=True, blank=True, help_text=_("how much nearer than anybody else"))
    frames = models.JSONField(default=list, help_text=_("the frames that agreed: digest, time, distance"))
    liveness = models.CharField(max_length=32, blank=True, help_text=_("blank: not checked"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        verbose_name_plural = _("evidence")

    def __str__(self):
        return f"Evidence for {self.record}"


class NotLiveQuerySet(models.QuerySet):
    def expired(self, moment=None):
        days = settings.RETENTION["NOT_LIVE_DAYS"]
        return self.filter(seen_at__lte=(moment or timezone.now()) - timedelta(days=days))


def not_live_upload_to(attempt, filename):
    return f"not-live/{timezone.now():%Y/%m/%d}/{filename}"


class NotLiveAttempt(models.Model):
    """A face that was recognised but not judged a live person: a photo, a screen, or a challenge not done.

    Nothing was marked. Kept RETENTION["NOT_LIVE_DAYS"] days for staff; a few per device per hour.
    """

    device = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.CharField(max_length=64)
    face = models.FileField(storage=private_face_storage, upload_to=not_live_upload_to, max_length=255)

    objects = NotLiveQuerySet.as_manager()

    class Meta:
        ordering = ["-seen_at"]
        verbose_name = _("attempt not judged live")

    def __str__(self):
        return f"Not live at {self.device}: {self.reason}"


class Change(models.TextChoices):
    MARKED = "marked", _("Marked")
    UNMARKED = "unmarked", _("Unmarked")
    CHECKED_OUT = "checked_out", _("Checked out")
    APPROVED = "approved", _("Approved from review")
    REJECTED = "rejected", _("Rejected from review")


class RecordChange(models.Model):
    """Who changed a mark by hand, and when: the audit trail of manual and review decisions."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="changes")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16, choices=Change.choices)
    status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    reason = models.CharField(max_length=32, blank=True, help_text=_("the absence reason's code"))
    note = models.CharField(max_length=200, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.get_action_display()} {self.person} at {self.session} by {self.by}"


class CheckInRequest(models.Model):
    """The answer given to one Idempotency-Key of one device, replayed on retries."""

    device = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "key"], name="attendance_one_answer_per_key")]

    def __str__(self):
        return f"{self.device} {self.key}: {self.status_code}"


class Review(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PendingCheckInQuerySet(models.QuerySet):
    def open(self, moment=None):
        return self.filter(state=Review.PENDING, expires_at__gt=moment or timezone.now())

    def expired(self, moment=None):
        # captured_at too: a shorter RETENTION["REVIEW_FRAME_HOURS"] applies to frames already waiting.
        moment = moment or timezone.now()
        hours = settings.RETENTION["REVIEW_FRAME_HOURS"]
        return self.filter(
            models.Q(expires_at__lte=moment) | models.Q(captured_at__lte=moment - timedelta(hours=hours))
        )


def pending_frame_upload_to(pending, filename):
    return f"pending/{timezone.now():%Y/%m/%d}/{filename}"


class PendingCheckIn(models.Model):
    """A face that was close to someone but not clearly them: staff decide, within a limited time."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="pending_check_ins")
    candidate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    distance = models.FloatField()
    runner_up = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("the next nearest person, when somebody else came close too"),
    )
    runner_up_distance = models.FloatField(null=True, blank=True)
    frame = models.FileField(storage=private_face_storage, upload_to=pending_frame_upload_to, max_length=255)
    frame_width = models.PositiveIntegerField(null=True, blank=True)
    frame_height = models.PositiveIntegerField(null=True, blank=True)
    box = models.JSONField(help_text=_("x, y, width, height of the face in the frame's pixels"))
    device = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.FACE)
    captured_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = PendingCheckInQuerySet.as_manager()

    class Meta:
        ordering = ["captured_at"]
        verbose_name = _("pending check-in")

    def __str__(self):
        return f"{self.candidate}? at {self.session}"


class Camera(models.Model):
    """An IP camera behind go2rtc; its worker checks in faces for the sessions at its location."""

    name = models.SlugField(max_length=64, unique=True, help_text=_("e.g. entrance; one worker runs per camera"))
    go2rtc_url = models.URLField(
        "go2rtc URL", default="http://go2rtc:1984", validators=[URLValidator(schemes=["http", "https"])]
    )
    stream = models.CharField(max_length=120, blank=True, help_text=_("the go2rtc stream; blank: the camera's name"))
    location = models.CharField(max_length=120, help_text=_("marks the sessions whose location is exactly this"))
    interval_seconds = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5)],
        help_text=_("seconds between snapshots; blank: ATTENDANCE['CAMERA_INTERVAL_SECONDS']"),
    )
    is_active = models.BooleanField(default=True)
    device = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="camera",
        help_text=_("the kiosk account its check-ins are recorded under (camera-NAME), created automatically"),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.device_id is None and self.name:
            holder = get_user_model().objects.filter(username=self.device_username).first()
            if holder is not None and (holder.role != Role.KIOSK or hasattr(holder, "camera")):
                message = _("The account %(username)s exists already and is not free for this camera.") % {
                    "username": self.device_username
                }
                raise ValidationError({"name": message})

    @property
    def device_username(self) -> str:
        return f"camera-{self.name}"

    @property
    def stream_name(self) -> str:
        return self.stream or self.name

    @property
    def snapshot_url(self) -> str:
        return f"{self.go2rtc_url.rstrip('/')}/api/frame.jpeg?{urlencode({'src': self.stream_name})}"

    @property
    def interval(self) -> float:
        return self.interval_seconds or settings.ATTENDANCE["CAMERA_INTERVAL_SECONDS"]


class WebhookEvent(models.TextChoices):
    RECORD_CREATED = "record.created", _("record.created: a person was marked")
    RECORD_CHANGED = "record.changed", _("record.changed: a mark was changed")


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def new_event_id():
    return uuid.uuid4()


class WebhookEndpoint(models.Model):
    """A URL that receives attendance events, signed with its own secret (docs/webhooks.md)."""

    url = models.URLField("URL", max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    # A JSON list of WebhookEvent values: the same on SQLite and MongoDB (no ArrayField there).
    events = models.JSONField(default=list, help_text=_("the events it receives, e.g. ['record.created']"))
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook endpoint")

    def __str__(self):
        return self.url

    def clean(self):
        super().clean()
        if not isinstance(self.events, list) or not set(self.events) <= set(WebhookEvent.values):
            raise ValidationError({"events": f"Choose among {', '.join(WebhookEvent.values)}."})

    def receives(self, event: str) -> bool:
        return event in (self.events or [])


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint: its payload as first built, and how its attempts went."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    event_id = models.UUIDField(unique=True, default=new_event_id, editable=False)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="attendance_webhook_due")]

    def __str__(self):
        return f"{self.event} to {self.endpoint} ({self.state})"


class CheckInCredential(models.Model):
    """A person's way to check in without biometrics (attendance.fallback): a PIN and a QR code, both
    stored as digests; failures slow down the next attempts."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="check_in_credential"
    )
    pin = models.CharField(max_length=128, blank=True, help_text=_("hashed like a password; blank: none"))
    qr_digest = models.CharField(
        max_length=64, blank=True, db_index=True, help_text=_("SHA-256 of the QR code's secret")
    )
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"check-in credential of {self.person}"


class NotificationKind(models.TextChoices):
    ABSENT = "absent", _("Absent")
    LATE = "late", _("Late")
    DIGEST = "digest", _("Daily digest")
    RATE_ALERT = "rate_alert", _("Attendance rate below threshold")


class NotificationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Notification(models.Model):
    """One email to one recipient, sent by the task queue (attendance.notifications) and retried while the
    mail server fails. Its key makes each notice once: a person's absence at a session, a day's digest."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    session = models.ForeignKey(Session, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=NotificationState.choices, default=NotificationState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="attendance_notification_due")]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.recipient} ({self.state})"

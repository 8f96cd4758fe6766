"""Settings shared by every environment; values come from environment variables.

The names of the original guide stay: ``REDIS_URL`` (and ``MONGODB_URI`` for MongoDB).
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_ratelimit",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "attendx",
    "accounts",
    "faces",
    "attendance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: over-limit bodies are refused by their Content-Length.
    "attendx.body_limits.RequestBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language of the browser (or the one chosen), of LANGUAGES.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: `Authorization: Bearer` requests are a device's (accounts.devices).
    "accounts.middleware.DeviceTokenMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.KioskRestrictionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "attendx.urls"
WSGI_APPLICATION = "attendx.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Storage: SQLite on a file is the zero-setup default.
SQLITE_PATH = Path(env("SQLITE_PATH", default=str(BASE_DIR / "var" / "db.sqlite3")))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SQLITE_PATH,
        "OPTIONS": {
            # WAL and immediate transactions let several processes and kiosks write safely.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# MONGODB_URI switches storage to MongoDB through django-mongodb-backend (docs/mongodb.md): ObjectId
# keys everywhere, Mongo app configs for the contrib apps, and migrations from mongo_migrations/.
MONGODB_URI = env("MONGODB_URI", default="")
if MONGODB_URI:
    from attendx.settings import mongodb

    DATABASES = {"default": mongodb.database(MONGODB_URI, name=env("MONGODB_NAME", default=""))}
    DEFAULT_AUTO_FIELD = mongodb.DEFAULT_AUTO_FIELD
    INSTALLED_APPS = mongodb.installed_apps(INSTALLED_APPS)
    MIGRATION_MODULES = mongodb.MIGRATION_MODULES

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
# URL names a kiosk device account may use (accounts.middleware.KioskRestrictionMiddleware).
KIOSK_ALLOWED_URL_NAMES = [
    "accounts:login",
    "accounts:logout",
    "healthz",
    "readyz",
    "attendance:kiosk",
    "kiosk-locked",
    "api-check-in",
    "api-v1:check-in",
    "api-v1:check-in-pin",
    "api-v1:check-in-qr",
    "api-device-me",
    "api-device-unlock",
    "favicon",
    "set_language",
]
LOGIN_REDIRECT_URL = "home"

# Registered kiosks and cameras (accounts.devices, docs/devices.md).
DEVICES = {
    # A pairing code shown on the staff device page works once, within this many minutes.
    "PAIRING_CODE_MINUTES": env.int("DEVICES_PAIRING_CODE_MINUTES", default=10),
    # Attempts to pair per client address, and to leave locked mode (the staff PIN) per device.
    "PAIR_RATE": env("DEVICES_PAIR_RATE", default="10/m"),
    "UNLOCK_RATE": env("DEVICES_UNLOCK_RATE", default="5/m"),
    # A token's "last used" is written at most this often: not one database write per frame.
    "LAST_USED_EVERY_SECONDS": env.int("DEVICES_LAST_USED_EVERY_SECONDS", default=60),
}
LOGOUT_REDIRECT_URL = "accounts:login"

# Login brute force: counted in the database, so the limit holds when Redis is down. Every spelling of
# a login is counted under its account's username (accounts.lockout; docs/operations.md, "Sign-in lockout").
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.lockout.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# Across addresses: from this many failures for one account within the cool-off, each attempt waits
# BASE seconds after the account's last failure, doubling with every further failure, at most MAX.
SIGN_IN_THROTTLE_FAILURES = env.int("SIGN_IN_THROTTLE_FAILURES", default=10)
SIGN_IN_THROTTLE_BASE_SECONDS = env.float("SIGN_IN_THROTTLE_BASE_SECONDS", default=1.0)
SIGN_IN_THROTTLE_MAX_SECONDS = env.float("SIGN_IN_THROTTLE_MAX_SECONDS", default=300.0)

# The organisation's time zone: sessions, late marks and reports are in it (README, "Run it").
LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
# Every page is translated into these; a browser gets the one it prefers (docs/operations.md, "Languages").
# Each app keeps its own catalogue, <app>/locale/<language>/LC_MESSAGES/django.po.
LANGUAGES = [("en", "English"), ("es", "Español")]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Face photos are private: no MEDIA_URL is served; staff see them through authenticated views.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Redis: one server, three cache aliases with short timeouts so a stalled Redis cannot hang a
# request. Values are JSON (never pickle); every key starts with REDIS_KEY_PREFIX.
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="attendx")
REDIS_DEFAULT_EXPIRE = env.int("REDIS_DEFAULT_EXPIRE", default=3600)
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
# After a failure, Redis is left alone this long before the next attempt.
REDIS_RETRY_INTERVAL = env.float("REDIS_RETRY_INTERVAL", default=5.0)


def redis_cache(url, *, timeout=REDIS_DEFAULT_EXPIRE):
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "TIMEOUT": timeout,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
        },
    }


CACHES = {
    "default": redis_cache(REDIS_URL),
    "sessions": redis_cache(env("REDIS_SESSIONS_URL", default=REDIS_URL)),
    "ratelimit": redis_cache(env("REDIS_RATELIMIT_URL", default=REDIS_URL)),
}


# Celery (attendx/celery.py): the same Redis server as the cache, its own database number, so that
# clearing the cache never touches queued work. CELERY_BROKER_URL overrides it.
def _redis_database(url: str, number: int) -> str:
    base, _, last = url.rpartition("/")
    return f"{base}/{number}" if last.isdigit() and base.count("/") >= 2 else f"{url.rstrip('/')}/{number}"


CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_redis_database(REDIS_URL, 1))
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_ACKS_LATE = True  # a task running when its worker dies is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Our tasks keep their state in the database (faces.FaceJob) or have none: no result backend traffic.
CELERY_TASK_IGNORE_RESULT = True


def _schedule(name: str, default: str):
    """SCHEDULE_<NAME>: seconds ("60"), a crontab "minute hour day month weekday" ("30 3 * * *"), or "off"."""
    from celery.schedules import crontab

    value = env(f"SCHEDULE_{name}", default=default).strip()
    if value == "off":
        return None
    fields = value.split()
    try:
        if len(fields) == 5:
            minute, hour, day_of_month, month_of_year, day_of_week = fields
            return crontab(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month_of_year,
                day_of_week=day_of_week,
            )
        return float(value)
    except ValueError as error:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"SCHEDULE_{name}={value!r}: give seconds, a crontab 'minute hour day month weekday' or 'off'"
        ) from error


# Periodic jobs, run by `celery -A attendx beat` (docs/deploy.md); each task is safe to run twice.
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": schedule}
    for name, task, schedule in [
        # Hourly, so nothing outlives its RETENTION limit by more than an hour (SCHEDULE_PURGE_CHECK_INS is
        # the old name of SCHEDULE_PURGE).
        ("purge", "attendx.tasks.purge", _schedule("PURGE", env("SCHEDULE_PURGE_CHECK_INS", default="15 * * * *"))),
        ("clear-sessions", "accounts.tasks.clear_expired_sessions", _schedule("CLEAR_SESSIONS", "45 3 * * *")),
        ("resume-face-jobs", "faces.tasks.resume_face_jobs", _schedule("RESUME_FACE_JOBS", "120")),
        ("resume-webhooks", "attendance.tasks.resume_webhook_deliveries", _schedule("RESUME_WEBHOOKS", "60")),
        ("cache-purges", "faces.tasks.carry_out_cache_purges", _schedule("CACHE_PURGES", "60")),
        # Timetables (attendance.timetables): sessions generated TIMETABLE_WEEKS_AHEAD weeks ahead.
        ("timetables", "attendance.tasks.generate_timetables", _schedule("TIMETABLES", "30 2 * * *")),
        # Notifications (attendance.notifications): absences and late arrivals of the sessions that ended,
        # the staff digest each morning, rate alerts each evening; unsent email is tried again.
        ("notify-sessions", "attendance.tasks.notify_ended_sessions", _schedule("NOTIFY_SESSIONS", "300")),
        ("daily-digest", "attendance.tasks.send_daily_digests", _schedule("DAILY_DIGEST", "0 7 * * *")),
        ("rate-alerts", "attendance.tasks.send_rate_alerts", _schedule("RATE_ALERTS", "0 18 * * *")),
        ("resume-notifications", "attendance.tasks.resume_notifications", _schedule("RESUME_NOTIFICATIONS", "120")),
    ]
    if schedule is not None
}
# Camera frames (attendance.frames) have a queue of their own, so bulk jobs never delay them: run a
# worker with ``-Q frames`` (or ``-Q celery,frames``). The task lives outside tasks.py, hence IMPORTS.
CELERY_IMPORTS = ["attendance.frames"]
CELERY_TASK_ROUTES = {"attendance.recognise_frame": {"queue": "frames"}}

# Sessions live in Redis and are written through to the database (see accounts.sessions).
SESSION_ENGINE = "accounts.sessions"
SESSION_CACHE_ALIAS = "sessions"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
# How long a process trusts its copy of the session cache epoch.
SESSION_EPOCH_RECHECK_SECONDS = env.float("SESSION_EPOCH_RECHECK_SECONDS", default=1.0)

RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = False
# When the rate-limit store is down, clients are told to come back after this many seconds.
RATELIMIT_UNAVAILABLE_RETRY_AFTER = env.int("RATELIMIT_UNAVAILABLE_RETRY_AFTER", default=30)

# The versioned JSON API at /api/v1/ (attendx/api/, docs/api.md). Throttles count per account (or address)
# in fixed windows on the ``ratelimit`` cache; with Redis down they let requests through. Check-ins are
# limited by ATTENDANCE["CHECK_IN_RATE"] instead, as on the legacy URL.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["attendx.api.permissions.IsStaffRole"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "attendx.api.pagination.PageNumbers",
    "DEFAULT_THROTTLE_CLASSES": ["attendx.api.throttling.RedisRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api": env("API_RATE", default="600/m"),
        "export": env("API_EXPORT_RATE", default="30/m"),
    },
    "EXCEPTION_HANDLER": "attendx.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "attendx.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AttendX API",
    "DESCRIPTION": "Attendance by face recognition: people, groups, sessions, records, check-ins (docs/api.md).",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RecordStatusEnum": "attendance.models.Status",
        "LivenessStatusEnum": "attendance.presence.Status",
    },
    # Swagger UI and Redoc from our own static files (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Face recognition; validated at start-up by faces.checks.
DEEPFACE_HOME = Path(env("DEEPFACE_HOME", default=str(BASE_DIR / "var" / "deepface")))
FACES = {
    "MODEL": env("FACES_MODEL", default="Dlib"),
    # yuface (libfacedetection's CNN; faces.detectors) by default; dlib (HOG) and opencv selectable.
    "DETECTOR": env("FACES_DETECTOR", default="yuface"),
    # Detection runs on a copy at most this long; photos are first shrunk to MAX_SIDE.
    "DETECT_MAX_SIDE": env.int("FACES_DETECT_MAX_SIDE", default=1024),
    # yuface searches a copy at most this long: photos and kiosk frames, and IP-camera frames.
    "YUFACE_MAX_SIDE": env.int("FACES_YUFACE_MAX_SIDE", default=320),
    "YUFACE_CAMERA_MAX_SIDE": env.int("FACES_YUFACE_CAMERA_MAX_SIDE", default=640),
    "MAX_SIDE": env.int("FACES_MAX_SIDE", default=1280),
    # Who runs dlib's network: auto (the ONNX graph converted at install time, else dlib), onnx, dlib.
    "DESCRIPTOR": env("FACES_DESCRIPTOR", default="auto"),
    # onnxruntime threads per worker process (docs/deploy.md): cores / workers.
    "ONNX_THREADS": env.int("FACES_ONNX_THREADS", default=1),
    # Cosine distances on the engine's unit vectors. In force: the latest `calibrate_faces` of this
    # pipeline (docs/operations.md, "Face calibration"); these values until the first one, or always
    # when any of the four variables below is set (then all four are pinned; FACES_THRESHOLDS_PINNED
    # says so explicitly). Defaults tuned on shared/data/faces/pairs.csv as 1:1 pairs.
    "ACCEPT_DISTANCE": env.float("FACES_ACCEPT_DISTANCE", default=0.07),
    "REVIEW_DISTANCE": env.float("FACES_REVIEW_DISTANCE", default=0.09),
    # The best person must beat every other person by this much to be accepted ...
    "MARGIN": env.float("FACES_MARGIN", default=0.01),
    # ... and by this much when the two are look-alikes (nearest samples within REVIEW_DISTANCE).
    "LOOKALIKE_MARGIN": env.float("FACES_LOOKALIKE_MARGIN", default=0.03),
    "THRESHOLDS_PINNED": env.bool(
        "FACES_THRESHOLDS_PINNED",
        default=any(
            name in os.environ
            for name in ("FACES_ACCEPT_DISTANCE", "FACES_REVIEW_DISTANCE", "FACES_MARGIN", "FACES_LOOKALIKE_MARGIN")
        ),
    ),
    # calibrate_faces aims at this rate of strangers accepted as someone: 1 in 10,000 check-ins.
    "CALIBRATION_TARGET_RATE": env.float("FACES_CALIBRATION_TARGET_RATE", default=1e-4),
    # Public labelled photos (manifest.csv, pairs.csv) pooled as a prior into a small gallery's
    # calibration; their embeddings are cached per pipeline in CALIBRATION_CACHE_DIR, never elsewhere.
    "CALIBRATION_PRIOR_DIR": Path(
        env("FACES_CALIBRATION_PRIOR_DIR", default=str(BASE_DIR.parent / "shared" / "data" / "faces"))
    ),
    "CALIBRATION_CACHE_DIR": Path(env("FACES_CALIBRATION_CACHE_DIR", default=str(BASE_DIR / "var" / "calibration"))),
    "MIN_FACE_PX": env.int("FACES_MIN_FACE_PX", default=80),
    "MIN_SHARPNESS": env.float("FACES_MIN_SHARPNESS", default=20.0),
    "MIN_BRIGHTNESS": env.float("FACES_MIN_BRIGHTNESS", default=40.0),
    "MAX_BRIGHTNESS": env.float("FACES_MAX_BRIGHTNESS", default=220.0),
    "MAX_UPLOAD_BYTES": env.int("FACES_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024),
    # Declared pixels of an enrollment photo and of a check-in frame (a 4K camera snapshot is 8.3 MP);
    # Pillow refuses anything over 89 MP regardless. JPEGs decode at reduced scale; PNG, WebP and
    # progressive JPEG decode at full size, so they are also held to MAX_DECODE_BYTES of working memory
    # (PNG 21 MP, WebP 5.2 MP, progressive JPEG 14-28 MP): see docs/benchmarks.md, "Decoding memory".
    "MAX_PIXELS": env.int("FACES_MAX_PIXELS", default=64_000_000),
    "MAX_FRAME_PIXELS": env.int("FACES_MAX_FRAME_PIXELS", default=9_000_000),
    "MAX_DECODE_BYTES": env.int("FACES_MAX_DECODE_BYTES", default=80 * 1024 * 1024),
    "MAX_PHOTOS_PER_UPLOAD": env.int("FACES_MAX_PHOTOS_PER_UPLOAD", default=10),
    "EMBEDDING_CACHE_TTL": env.int("FACES_EMBEDDING_CACHE_TTL", default=7 * 24 * 3600),
    "ENROLL_RATE": env("FACES_ENROLL_RATE", default="5/h"),
    "STAFF_ENROLL_RATE": env("FACES_STAFF_ENROLL_RATE", default="120/h"),
    # Bulk enrollment from the staff page (faces.jobs): a ZIP of <username>/<photo> up to this size
    # and this many photos, staged under MEDIA_ROOT/staging/ until a worker has enrolled them.
    "BULK_MAX_UPLOAD_BYTES": env.int("FACES_BULK_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024),
    "BULK_MAX_PHOTOS": env.int("FACES_BULK_MAX_PHOTOS", default=500),
    # A job's task works this long, then queues its own continuation (well inside the broker's
    # visibility timeout); re-embedding saves this many samples per step.
    "JOB_STEP_SECONDS": env.float("FACES_JOB_STEP_SECONDS", default=60.0),
    "JOB_CHUNK": env.int("FACES_JOB_CHUNK", default=20),
    # An unfinished job quiet this long is queued again (its message may be lost with Redis's data);
    # after this many deliveries it fails. Finished jobs are deleted after JOB_DAYS.
    "JOB_STALL_SECONDS": env.int("FACES_JOB_STALL_SECONDS", default=600),
    "JOB_MAX_ATTEMPTS": env.int("FACES_JOB_MAX_ATTEMPTS", default=5),
    "JOB_DAYS": env.int("FACES_JOB_DAYS", default=30),
}
FILE_UPLOAD_MAX_MEMORY_SIZE = FACES["MAX_UPLOAD_BYTES"] + 1
# Face templates and photos are encrypted at rest (faces.crypto) with these Fernet keys, comma-separated,
# newest first; kept out of the database. Only local and test settings fall back to a key file in var/.
FACES_ENCRYPTION_KEYS = env.list("FACES_ENCRYPTION_KEYS", default=[])
FACES_ENCRYPTION_KEY_FILE = None
# Off: enrollment keeps only the encrypted template, never the photo (nothing to re-embed from).
FACES_KEEP_PHOTOS = env.bool("FACES_KEEP_PHOTOS", default=True)
# Request bodies (attendx.body_limits): pages accept this much; check-ins one photo, enrollment a batch.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=2_621_440)
# Room for the multipart framing and the other fields of a form around its photos.
REQUEST_BODY_OVERHEAD_BYTES = 64 * 1024

# The liveness judge (faces.liveness; docs/liveness.md, "Thresholds"), validated by faces.checks. Fractions
# are of the face's size. A track whose landmarks a homography leaves PARALLAX unexplained is a live head;
# one whose shape changed less than MOTION (beyond a slide, zoom or roll) shows nothing; one that moved
# with at most FLAT_RATIO of its motion unexplained is a picture. A turn challenge needs TURN_DEGREES; a
# blink an eye aspect ratio down to BLINK_CLOSED of the open eyes' and back to BLINK_REOPENED. The judge
# compares at most MAX_FRAMES frames; judge_frames follows a face while its boxes overlap by TRACK_IOU.
LIVENESS = {
    "PARALLAX": env.float("LIVENESS_PARALLAX", default=0.025),
    "MOTION": env.float("LIVENESS_MOTION", default=0.008),
    "FLAT_RATIO": env.float("LIVENESS_FLAT_RATIO", default=0.45),
    "TURN_DEGREES": env.float("LIVENESS_TURN_DEGREES", default=20.0),
    "BLINK_CLOSED": env.float("LIVENESS_BLINK_CLOSED", default=0.65),
    "BLINK_REOPENED": env.float("LIVENESS_BLINK_REOPENED", default=0.85),
    "MAX_FRAMES": env.int("LIVENESS_MAX_FRAMES", default=10),
    "TRACK_IOU": env.float("LIVENESS_TRACK_IOU", default=0.3),
}

ATTENDANCE = {
    # Check-in opens this many minutes before a session starts.
    "CHECK_IN_OPENS_MINUTES_BEFORE": env.int("ATTENDANCE_CHECK_IN_OPENS_MINUTES_BEFORE", default=15),
    # Requests per device: idle, the kiosk page sends a burst every 1.5 s (40/m); while it waits for
    # agreement or a challenge, one after another (about 2 a second).
    "CHECK_IN_RATE": env("ATTENDANCE_CHECK_IN_RATE", default="150/m"),
    "REPORT_CACHE_TTL": env.int("ATTENDANCE_REPORT_CACHE_TTL", default=300),
    # Agreement across frames (attendance.agreement): a face mark needs AGREE_FRAMES distinct frames
    # accepting the person among the device's last AGREE_OF_LAST within AGREE_SECONDS.
    "AGREE_FRAMES": env.int("ATTENDANCE_AGREE_FRAMES", default=2),
    "AGREE_OF_LAST": env.int("ATTENDANCE_AGREE_OF_LAST", default=3),
    "AGREE_SECONDS": env.float("ATTENDANCE_AGREE_SECONDS", default=5.0),
    # Frames one check-in request may carry (a kiosk sends a short burst).
    "BURST_MAX_FRAMES": env.int("ATTENDANCE_BURST_MAX_FRAMES", default=6),
    # Liveness of kiosks and cameras unless a device sets its own (accounts.Liveness): off, passive
    # (a challenge when unsure) or challenge. A challenge must be done within LIVENESS_CHALLENGE_SECONDS;
    # the judge sees a face's last LIVENESS_FRAMES frames within LIVENESS_SECONDS. Attempts judged not
    # live are kept for staff, at most NOT_LIVE_RECORDS_PER_HOUR per device.
    "LIVENESS": env("ATTENDANCE_LIVENESS", default="passive"),
    "LIVENESS_FRAMES": env.int("ATTENDANCE_LIVENESS_FRAMES", default=12),
    "LIVENESS_SECONDS": env.float("ATTENDANCE_LIVENESS_SECONDS", default=10.0),
    "LIVENESS_CHALLENGE_SECONDS": env.float("ATTENDANCE_LIVENESS_CHALLENGE_SECONDS", default=8.0),
    "NOT_LIVE_RECORDS_PER_HOUR": env.int("ATTENDANCE_NOT_LIVE_RECORDS_PER_HOUR", default=20),
    # IP cameras (attendance.cameras): seconds between snapshots unless a camera sets its own, the
    # longest wait after repeated errors, and how long one snapshot may take (go2rtc waits for the
    # camera's next key frame).
    "CAMERA_INTERVAL_SECONDS": env.float("ATTENDANCE_CAMERA_INTERVAL_SECONDS", default=2.0),
    "CAMERA_MAX_BACKOFF_SECONDS": env.float("ATTENDANCE_CAMERA_MAX_BACKOFF_SECONDS", default=60.0),
    "CAMERA_TIMEOUT_SECONDS": env.float("ATTENDANCE_CAMERA_TIMEOUT_SECONDS", default=10.0),
    # Camera frames on Celery (manage.py camera_poller): a frame older than this when a worker takes it
    # is dropped (its task also expires in the queue), and pollers stop enqueuing while the frames queue
    # holds this many frames (workers down or too few: nothing piles up).
    "CAMERA_FRAME_MAX_AGE_SECONDS": env.float("ATTENDANCE_CAMERA_FRAME_MAX_AGE_SECONDS", default=4.0),
    "CAMERA_FRAME_BACKLOG": env.int("ATTENDANCE_CAMERA_FRAME_BACKLOG", default=64),
    # Check-in without a face (attendance.fallback): attempts per device, by PIN or QR card together; after
    # FALLBACK_MAX_FAILURES wrong PINs a person's PIN is locked for FALLBACK_LOCK_MINUTES, doubling with
    # each further wrong PIN up to FALLBACK_LOCK_MAX_MINUTES.
    "FALLBACK_RATE": env("ATTENDANCE_FALLBACK_RATE", default="30/m"),
    "FALLBACK_MAX_FAILURES": env.int("ATTENDANCE_FALLBACK_MAX_FAILURES", default=5),
    "FALLBACK_LOCK_MINUTES": env.int("ATTENDANCE_FALLBACK_LOCK_MINUTES", default=1),
    "FALLBACK_LOCK_MAX_MINUTES": env.int("ATTENDANCE_FALLBACK_LOCK_MAX_MINUTES", default=24 * 60),
    # A second scan of a person already marked (attendance.services): "workplace" checks them out,
    # "school" marks them as having left early when it comes before the session's end, "off" ignores it.
    # Scans within CHECK_OUT_AFTER_MINUTES of the arrival are the same visit and change nothing.
    "CHECK_OUT_MODE": env("ATTENDANCE_CHECK_OUT_MODE", default="workplace"),
    "CHECK_OUT_AFTER_MINUTES": env.int("ATTENDANCE_CHECK_OUT_AFTER_MINUTES", default=30),
    # Workplace mode: people leave after their shift ends, so a session stays open for check-out (never
    # for arrivals) this many hours after its end.
    "CHECK_OUT_HOURS_AFTER_END": env.float("ATTENDANCE_CHECK_OUT_HOURS_AFTER_END", default=4.0),
    # Timetables: sessions are generated this many weeks ahead (attendance.timetables).
    "TIMETABLE_WEEKS_AHEAD": env.int("ATTENDANCE_TIMETABLE_WEEKS_AHEAD", default=2),
}

# Email: notifications go through Django's email backend (SMTP by default), from the Celery worker.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="attendx@localhost")
NOTIFICATIONS = {
    # A mail server that refuses is tried again after RETRY_SECONDS, doubling, at most MAX_ATTEMPTS times.
    "MAX_ATTEMPTS": env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6),
    "RETRY_SECONDS": env.int("NOTIFICATIONS_RETRY_SECONDS", default=60),
    # Rate alerts look at this many days of sessions.
    "RATE_ALERT_DAYS": env.int("NOTIFICATIONS_RATE_ALERT_DAYS", default=28),
}

# How long personal data is kept (attendx.retention, docs/operations.md; the page /privacy/retention/
# reads these). `manage.py purge` and the hourly beat task delete what is older. The old ATTENDANCE_*
# variables still work as defaults.
RETENTION = {
    # Face samples (photos and templates) of a person whose account was deactivated (User.left_at).
    "TEMPLATES_AFTER_LEAVING_DAYS": env.int("RETENTION_TEMPLATES_AFTER_LEAVING_DAYS", default=30),
    # The evidence of a face mark: the face crop, distances, agreeing frames (the mark itself stays).
    "EVIDENCE_DAYS": env.int("RETENTION_EVIDENCE_DAYS", default=env.int("ATTENDANCE_EVIDENCE_DAYS", default=30)),
    # A face in the review band waits this long for a staff decision; its frame is then deleted.
    "REVIEW_FRAME_HOURS": env.int(
        "RETENTION_REVIEW_FRAME_HOURS", default=env.int("ATTENDANCE_REVIEW_HOURS", default=24)
    ),
    # Faces recognised but not judged live (photos, screens), kept for staff to look at.
    "NOT_LIVE_DAYS": env.int("RETENTION_NOT_LIVE_DAYS", default=env.int("ATTENDANCE_EVIDENCE_DAYS", default=30)),
    # The answer given to a device's Idempotency-Key, replayed on its retries.
    "CHECK_IN_ANSWER_HOURS": env.int(
        "RETENTION_CHECK_IN_ANSWER_HOURS", default=env.int("ATTENDANCE_IDEMPOTENCY_HOURS", default=24)
    ),
}

# Webhooks (attendance.webhooks, docs/webhooks.md): one POST may take TIMEOUT_SECONDS; a failed one is
# tried again after RETRY_BASE_SECONDS, then twice that, and so on, MAX_ATTEMPTS attempts in all.
WEBHOOKS = {
    "TIMEOUT_SECONDS": env.float("WEBHOOKS_TIMEOUT_SECONDS", default=5.0),
    "RETRY_BASE_SECONDS": env.float("WEBHOOKS_RETRY_BASE_SECONDS", default=10.0),
    "MAX_ATTEMPTS": env.int("WEBHOOKS_MAX_ATTEMPTS", default=8),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"quiet_intended_503": {"()": "attendx.unavailable.QuietIntendedUnavailable"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Intended 503s are logged once per cause by attendx.unavailable, not on every request.
        "django.request": {"filters": ["quiet_intended_503"]},
        "attendx": {"level": env("LOG_LEVEL", default="INFO"), "propagate": True},
        "accounts": {"level": env("LOG_LEVEL", default="INFO"), "propagate": True},
        "faces": {"level": env("LOG_LEVEL", default="INFO"), "propagate": True},
        "attendance": {"level": env("LOG_LEVEL", default="INFO"), "propagate": True},
    },
}

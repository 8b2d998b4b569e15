"""Settings for Portal Verval DTSEN, read only from environment variables.

With nothing set the portal runs on SQLite with Celery tasks executed in-process, so a demo needs no
server. Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis) to run on real services.
A bad value fails at start-up with a clear message; secrets have no default outside DEBUG.
"""
import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is convenient for developers; the real environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (see .env.example)."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105  # nosec B105

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Index expressions with an operator class (the trigram indexes of name search); harmless on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework.authtoken",
    "django_celery_beat",
    "import_export",
    "simple_history",
    "accounts",
    "registry",
    "verification",
    "groundcheck",
    "distribution",
    "central",
    "monitoring",
    "csp",
    "privacy",
    "jobs",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Bahasa Indonesia whatever the browser says; English only when chosen with the header's switch.
    "dtsen_portal.locale.PortalLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Records the acting user on every audited change made during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Sends the reads of Cek Bansos, reports and exports to the read replica when there is one.
    "dtsen_portal.db_routers.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "dtsen_portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Widgets rendered by Jinja2 from Django's own widget templates (dtsen_portal.renderers): the verval page
# renders about 150 widgets, two thirds of its time through the Django template engine (docs/performance.md).
FORM_RENDERER = "dtsen_portal.renderers.WidgetRenderer"

WSGI_APPLICATION = "dtsen_portal.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Production sets DATABASE_CONN_MAX_AGE (docker-compose: 60) so a gunicorn worker keeps its connection instead of
# opening one per request; the health check drops a connection the server closed meanwhile.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# An optional streaming read replica of the same database: Cek Bansos, reports and exports read there, everything
# else (and every write) stays on `default`; which pages is declared in dtsen_portal/db_routers.py.
if env.str("REPLICA_DATABASE_URL", default=""):
    DATABASES["replica"] = env.db("REPLICA_DATABASE_URL")
    if DATABASES["replica"]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("REPLICA_DATABASE_URL must be a replica of DATABASE_URL (the same engine).")
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    # Tests read the replica alias from the test database itself (the copy of a copy would not exist).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["dtsen_portal.db_routers.ReplicaRouter"]

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
# django-filter's empty choice ("---------" otherwise) in the portal's words.
FILTERS_EMPTY_CHOICE_LABEL = _("All")
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60  # the switch's choice is remembered for a year on that device
LANGUAGE_COOKIE_SAMESITE = "Lax"
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery: with no broker configured the tasks run in-process, so the demo needs no Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CENTRAL_PULL_MINUTES = env.int("CENTRAL_PULL_MINUTES", default=5)
# The beat scheduler copies these into django-celery-beat's tables, where staff can pause or change them.
CELERY_BEAT_SCHEDULE = {
    "central-pull-batches": {"task": "central.pull_batches", "schedule": CENTRAL_PULL_MINUTES * 60},
    "central-push-submissions": {"task": "central.push_submissions", "schedule": CENTRAL_PULL_MINUTES * 60},
    "central-pull-determinations": {"task": "central.pull_determinations", "schedule": 15 * 60},
    # The centre publishes desil on the 20th; look hourly that day and the next in case it comes late.
    "central-pull-desil": {"task": "central.pull_desil",
                           "schedule": crontab(minute=10, hour="6-23", day_of_month="20,21")},
}

# The central DTSEN/Pusdatin endpoint (the mock in development and tests).
CENTRAL_API_URL = env.str("CENTRAL_API_URL", default="http://127.0.0.1:8765")
# In DEBUG the default matches the mock's own default token, so `make run` + `make mock` work untouched.
CENTRAL_API_TOKEN = env.str("CENTRAL_API_TOKEN", default="mock-token" if DEBUG else "")
CENTRAL_API_TIMEOUT = env.float("CENTRAL_API_TIMEOUT", default=10.0)
# Pages of a batch one ingest task validates and stages (500 families a page): a large batch is split into
# ranges that any Celery worker, on any machine sharing the broker and the database, can take.
CENTRAL_INGEST_RANGE_PAGES = env.int("CENTRAL_INGEST_RANGE_PAGES", default=20)
if CENTRAL_INGEST_RANGE_PAGES < 1:
    raise ImproperlyConfigured("CENTRAL_INGEST_RANGE_PAGES must be at least 1.")
# Processes of `sync_central pull` staging a large batch's ranges at once (validation is Python: one core
# each; the download waits on the network meanwhile): one per core, at most 4 by default (each holds a
# database connection and up to 300 MB). Celery workers set their own concurrency.
CENTRAL_PULL_PROCESSES = env.int("CENTRAL_PULL_PROCESSES", default=min(os.cpu_count() or 1, 4))
if CENTRAL_PULL_PROCESSES < 1:
    raise ImproperlyConfigured("CENTRAL_PULL_PROCESSES must be at least 1.")
# Items per page of a submission: a regency round of thousands of families goes up in several requests.
CENTRAL_SUBMISSION_PAGE_ITEMS = env.int("CENTRAL_SUBMISSION_PAGE_ITEMS", default=500)
if not 1 <= CENTRAL_SUBMISSION_PAGE_ITEMS <= 1000:
    raise ImproperlyConfigured("CENTRAL_SUBMISSION_PAGE_ITEMS must be between 1 and 1000 (the centre's limit).")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in, JSON out: one documented request format for other systems and devices.
    "DEFAULT_PARSER_CLASSES": ["dtsen_portal.parsers.BoundedJSONParser"],
    # Search and ordering only where a viewset names its search_fields / ordering_fields.
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend",
                                "rest_framework.filters.SearchFilter", "rest_framework.filters.OrderingFilter"],
    "EXCEPTION_HANDLER": "dtsen_portal.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "dtsen_portal.pagination.StableCursorPagination",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portal Verval DTSEN API",
    "DESCRIPTION": "Versioned API of the DTSEN verification portal. Every list and object is limited to the "
    "caller's area; objects of another area answer 404. Errors share one shape: code, message, field_errors.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",  # tags and operation ids by resource (families, rounds...), not "v1"
    "SWAGGER_UI_DIST": "SIDECAR",  # vendored Swagger UI, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dtsen_portal.api.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {"RoundStateEnum": "verification.models.RoundState"},
}

# Content-Security-Policy (issue 13): nothing inline and nothing from elsewhere runs on any page, so a script
# that got in (through an upload, a field) cannot act as the signed-in user. Scripts live in static/js/; the API
# docs relax it for their own view only (dtsen_portal/urls.py), uploads are served with no policy to run at all.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"], "object-src": ["'none'"], "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"], "form-action": ["'self'"],
}}
# Uploads (issue 13): a request over dtsen_portal.uploads.max_request_bytes() is refused before it is read;
# files above FILE_UPLOAD_MAX_MEMORY_SIZE go to FILE_UPLOAD_TEMP_DIR, swept hourly of what killed workers left.
FILE_UPLOAD_HANDLERS = ["dtsen_portal.uploads.RequestSizeLimitHandler",
                        "django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "django.core.files.uploadhandler.TemporaryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=None)
CELERY_BEAT_SCHEDULE["sweep-upload-temp-files"] = {"task": "uploads.sweep_temp_files", "schedule": 60 * 60}
# Exports written in the background hold personal data: their files go a day after they were asked for.
CELERY_BEAT_SCHEDULE["sweep-export-jobs"] = {"task": "privacy.sweep_export_jobs", "schedule": 60 * 60}

# Logins and sessions (issue 13). Production (DEBUG off) is secure by default: HTTPS only, HSTS, secure cookies;
# each can be turned off by its variable, e.g. DJANGO_SECURE_SSL_REDIRECT=0 when a proxy already redirects.
INSTALLED_APPS += ["axes", "django_otp", "django_otp.plugins.otp_totp"]
# The idle check and the pending login steps need the user and messages; django-axes' middleware comes last.
MIDDLEWARE += ["accounts.middleware.SessionIdleMiddleware", "accounts.middleware.LoginStepsMiddleware",
               "axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
# One username from one address: a guesser is stopped without letting anyone lock a colleague out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "dtsen_portal.client_address.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"  # a page in Bahasa Indonesia, HTTP 429
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in accounts.LoginEvent
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False  # attempts hold usernames and addresses of every regency: `manage.py axes_reset_username`
OTP_TOTP_ISSUER = "Portal Verval DTSEN"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # an authenticator's secret is shown once, to its owner
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60  # the browser forgets an idle session too
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "dtsen_portal.sessions"  # database sessions; a forged key is no session, never a 500
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container's own probe asks over plain HTTP on loopback
# Only behind a TLS proxy that sets X-Forwarded-Proto and drops the client's own: otherwise anyone could claim HTTPS.
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Client addresses (Cek Bansos rate limits, issue 13): the reverse proxies in front of the portal, as
# addresses or networks. Only a request from one of them has its X-Forwarded-For read, and only up to the first
# address that is not a listed proxy. Empty (the default): REMOTE_ADDR only, X-Forwarded-For ignored.
TRUSTED_PROXIES = [proxy.strip() for proxy in env.list("TRUSTED_PROXIES", default=[]) if proxy.strip()]
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network (e.g. 127.0.0.1,172.16.0.0/12)."
        ) from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No NIK or KK number in the logs (UU PDP): every 16-digit number is masked before a handler writes it.
    "filters": {"scrub_personal_data": {"()": "privacy.logscrub.ScrubPersonalData"}},
    "formatters": {"django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}",
                                     "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["scrub_personal_data"]},
                 "django.server": {"class": "logging.StreamHandler", "formatter": "django.server",
                                   "filters": ["scrub_personal_data"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own loggers come with handlers that bypass the root's filter (the development server's request
    # lines carry query strings, a NIK searched for among them): they write through filtered handlers instead.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True},
                "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False}},
}

# Cek Bansos: a report's answer, once the register has been read for it, comes after a whole number of these
# seconds, so its time does not tell whether a NIK is registered (distribution.services.report_submit).
REPORT_ANSWER_QUANTUM = env.float("REPORT_ANSWER_QUANTUM", default=0.25)

# Notifications (notifications.services.notify): every channel listed gets each message it has an address for.
# E-mail goes through EMAIL_BACKEND; SMS/WhatsApp through an HTTP gateway when its URL is set (the fake keeps
# messages in memory, for tests and demos).
NOTIFICATION_CHANNELS = env.list("NOTIFICATION_CHANNELS", default=[
    "notifications.channels.EmailChannel", "notifications.channels.HttpGatewayChannel"])
NOTIFICATION_GATEWAY_URL = env.str("NOTIFICATION_GATEWAY_URL", default="")
NOTIFICATION_GATEWAY_TOKEN = env.str("NOTIFICATION_GATEWAY_TOKEN", default="")
NOTIFICATION_GATEWAY_TIMEOUT = env.int("NOTIFICATION_GATEWAY_TIMEOUT", default=10)
# Citizens' reports past their 14 days: Dinsos is told each morning (distribution.services.reports_escalate).
CELERY_BEAT_SCHEDULE["escalate-overdue-reports"] = {"task": "distribution.escalate_overdue_reports",
                                                     "schedule": crontab(minute=0, hour=7)}
# E-mail: SMTP when EMAIL_HOST is set, else dropped (the console in DEBUG); tests use Django's in-memory outbox.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = 20
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.dummy.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Portal Verval DTSEN <noreply@localhost>")

"""Settings, all read from the environment (see README, "Configuration")."""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.anymail_settings import anymail_settings
from config.env import (
    env_bool,
    env_dotted_path,
    env_int,
    env_list,
    env_parsed,
    env_str,
    env_time_zone,
)
from config.origins import SEGMENT_HOSTS, parse_allowed_hosts

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
            "(or DEBUG=true for a development-only default)."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin.AdminConfig",  # django.contrib.admin, with the rule on actions
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "django_ace",  # the message form's code editor: its static files (Ace)
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "axes",
    "csp",
    "anymail",
    "corsheaders",
    "django_prometheus",
    "lists",
    "contacts",
    "emails",
    "conductor",
    "broadcasts",
    "integrations",
    "api",
    "signups",
    "ops",  # health and metrics, above every other app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware, as django-cors-headers asks: it answers preflights.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with 429.
    "axes.middleware.AxesMiddleware",
]

# --- Logins -------------------------------------------------------------------
# django-axes counts failed admin logins (and failed API token requests, see
# api/token.py) per user name and address, and refuses that pair for a while
# once there are too many. It reads REMOTE_ADDR: behind a proxy that hides the
# client's address, that locks the user name itself for the cool-off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=env_int("LOGIN_COOLOFF_MINUTES", default=15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "config.logins.locked_out"
AXES_VERBOSE = False

# --- Content-Security-Policy ----------------------------------------------------
# Every page (the admin, the browsable API and its docs, the tracking and
# confirmation pages) says where its scripts, styles and images may come from.
# The admin's own scripts are files; its templates and the diagram use inline
# style attributes, and emails shown in the browser bring their own inline
# styles and remote images, so styles and images are looser than scripts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],  # the API's Redoc page renders in a worker
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env_parsed(
        "DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        parse=environ.Env.db_url_config,
        expected="expected a URL such as postgres://user:pass@host:5432/name or sqlite:///path",
    )
}
_engine = DATABASES["default"].get("ENGINE", "")
if not _engine:
    raise ImproperlyConfigured(
        "Environment variable DATABASE_URL is invalid: expected a URL such as "
        "postgres://user:pass@host:5432/name or sqlite:///path."
    )
if _engine == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # WAL lets the web server read while a worker writes; IMMEDIATE transactions
    # take the write lock up front, so two writers queue instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str(
        "TEST_SQLITE_NAME", default=str(VAR_DIR / "test.sqlite3")
    )
elif _engine == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    raise ImproperlyConfigured(
        f"DATABASE_URL uses the engine {_engine}; only PostgreSQL and SQLite are supported."
    )
# What sits between the processes and PostgreSQL: "none" (a direct connection,
# or a pooler in session mode) or "transaction" (PgBouncer in transaction mode,
# which hands each transaction whichever server connection is free). Nothing
# else in the platform keeps state on a connection between transactions (advisory
# locks, SET LOCAL and temporary tables are all transaction-scoped); only
# QuerySet.iterator()'s server-side cursor (DECLARE … WITH HOLD outside a
# transaction) would outlive its transaction, so it is turned off.
DATABASE_POOLER = env_str("DATABASE_POOLER", default="none").lower()
if DATABASE_POOLER not in {"none", "transaction"}:
    raise ImproperlyConfigured(
        f"Environment variable DATABASE_POOLER={DATABASE_POOLER!r} is invalid: "
        "expected none or transaction (PgBouncer in transaction mode)."
    )
if DATABASE_POOLER == "transaction":
    if _engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "Environment variable DATABASE_POOLER=transaction is invalid with SQLite: "
            "a connection pooler only applies to PostgreSQL."
        )
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Time ---------------------------------------------------------------------
USE_TZ = True  # times are stored in UTC; a list's own time zone decides its dates
TIME_ZONE = env_time_zone("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- Static files -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env_str("STATIC_ROOT", default=str(VAR_DIR / "static"))

# --- Email --------------------------------------------------------------------
_email = env_parsed(
    "EMAIL_URL",
    default="consolemail://" if DEBUG else "smtp://localhost:25",
    parse=environ.Env.email_url_config,
    expected="expected a URL such as smtp://user:pass@host:587, smtp+tls://… or consolemail://",
)
globals().update(_email)
# Any email backend, by its class's dotted path, in place of the one EMAIL_URL
# picks (whose host, port and login still apply): a provider's API backend,
# or the development mailbox that `make run` uses (emails.mailbox.MailboxBackend).
if _backend := env_dotted_path("EMAIL_BACKEND"):
    EMAIL_BACKEND = _backend
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", default=30, minimum=1)
# Connections each worker sends Conductor's emails over at once: SMTP is four
# round trips per email, so one connection mostly waits for the server.
EMAIL_CONNECTIONS = env_int("EMAIL_CONNECTIONS", default=3, minimum=1)
# An email the mail server refuses for now (a 4xx: mailbox full, try later) is
# tried this many more times, after EMAIL_RETRY_SECONDS, then four times that,
# and so on (1, 4, 16, 64 minutes by default); then it is refused for good
# and its contact is held at its Message step, the reason shown.
EMAIL_TEMPORARY_RETRIES = env_int("EMAIL_TEMPORARY_RETRIES", default=4, minimum=0)
EMAIL_RETRY_SECONDS = env_int("EMAIL_RETRY_SECONDS", default=60, minimum=1)
# An email service's API through django-anymail (EMAIL_BACKEND=anymail.backends.
# postmark.EmailBackend, …): every ANYMAIL_<NAME> variable is ANYMAIL["<NAME>"],
# such as ANYMAIL_POSTMARK_SERVER_TOKEN, and ANYMAIL_WEBHOOK_SECRET, the
# "user:password" the service's webhooks (/anymail/<service>/tracking/) must
# bear; without it they answer 404. See config/anymail_settings.py.
ANYMAIL = anymail_settings(os.environ)

# The site's address as people reach it: links in emails (double opt-in
# confirmations) are built on it, outside any request.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", default="http://localhost:8000")
try:
    _public = urlsplit(PUBLIC_BASE_URL)
    _public_ok = (
        _public.scheme in {"http", "https"}
        and bool(_public.hostname)
        and not (_public.query or _public.fragment)
    )
except ValueError:  # e.g. an unbalanced [ in the host
    _public_ok = False
if not _public_ok:
    raise ImproperlyConfigured(
        f"Environment variable PUBLIC_BASE_URL={PUBLIC_BASE_URL!r} is invalid: "
        "expected an http(s) URL such as https://mail.example.com."
    )
PUBLIC_BASE_URL = PUBLIC_BASE_URL.rstrip("/")

# --- Background work (django-q2) ----------------------------------------------
REDIS_URL = env_str("REDIS_URL", default="")
Q_TIMEOUT = env_int("Q_TIMEOUT", default=600, minimum=1)
Q_CLUSTER = {
    "name": "retailmail",
    "workers": env_int("Q_WORKERS", default=2, minimum=1),
    "timeout": Q_TIMEOUT,
    "retry": Q_TIMEOUT + 60,  # must exceed the timeout, or a slow task runs twice
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
}
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"Environment variable REDIS_URL={REDIS_URL!r} is invalid: "
            "expected a URL such as redis://localhost:6379/0."
        )
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    # django-q2's database broker, woken by NOTIFY on PostgreSQL (core/broker.py);
    # the poll above is then only the longest wait.
    Q_CLUSTER["broker_class"] = "core.broker.NotifyingORM"
# Each cluster rewrites its status (django-q2's Stat, read by /readyz and the
# admin's Clusters page) every half second in Redis with the Redis broker, and
# in Q_CLUSTER's cache with any other: one every process shares, so the
# database, not the per-process memory of the default cache. ops/apps.py
# creates its table after every migrate.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "django_q": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_q_cache",
    },
}
Q_CLUSTER["cache"] = "django_q"

# --- Health and metrics (ops/) --------------------------------------------------
# /readyz fails once no django-q2 cluster has reported for this long, as the
# web process saw it; a cluster reports every half second.
HEALTH_WORKERS_SEEN_SECONDS = env_int("HEALTH_WORKERS_SEEN_SECONDS", default=120, minimum=1)
# The bearer token Prometheus sends to /metrics. Empty (the default): /metrics
# answers 404, and nothing is counted (no django-prometheus middleware or
# database wrapper, so no cost per request or query).
METRICS_TOKEN = env_str("METRICS_TOKEN", default="")
if 0 < len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured(
        "Environment variable METRICS_TOKEN is too short: use at least 16 random characters."
    )
if METRICS_TOKEN:
    # As django-prometheus asks: first and last, but for django-axes, which
    # asks to be last; so its 429s are counted too.
    MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
    MIDDLEWARE.insert(
        MIDDLEWARE.index("axes.middleware.AxesMiddleware"),
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    )
    # The same backend, counting queries, connections and errors.
    DATABASES["default"]["ENGINE"] = _engine.replace(
        "django.db.backends.", "django_prometheus.db.backends."
    )

# --- Imports ------------------------------------------------------------------
MEDIA_ROOT = env_str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
# A worker that dies mid-import gives it up after this long; keep it above the
# time your largest import takes.
IMPORT_LEASE_SECONDS = env_int("IMPORT_LEASE_SECONDS", default=3600, minimum=60)

# --- Activity log (contacts/partitions.py) -----------------------------------
# On PostgreSQL the activity log is partitioned by month; the hourly task
# "activity-partitions" creates the partitions of this many months ahead.
ACTIVITY_PARTITIONS_AHEAD = env_int("ACTIVITY_PARTITIONS_AHEAD", default=3, minimum=1)
# Whole months of activity older than this many days are dropped (0: kept
# forever). Reports, the contact's story and engagement criteria then no longer
# see them.
ACTIVITY_RETENTION_DAYS = env_int("ACTIVITY_RETENTION_DAYS", default=0, minimum=0)

# --- REST API -----------------------------------------------------------------
API_TOKEN_SECONDS = env_int("API_TOKEN_SECONDS", default=3600, minimum=60)
# How long a web process trusts a token it has checked; a revoked token stops working
# everywhere within this time (at once in the process that revoked it). 0: check every call.
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", default=10, minimum=0)
# Largest JSON body of an API call, and of a ListImport (which carries its file base64-encoded).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", default=1_048_576, minimum=1024)
API_MAX_IMPORT_BYTES = env_int("API_MAX_IMPORT_BYTES", default=67_108_864, minimum=1024)
# A transactional send POSTed again with the same body (no Idempotency-Key header)
# by the same API client within this many seconds is the same send: the retry
# gets the first one's resourceId and no second email. 0: every POST sends.
TRANSACTIONAL_RETRY_SECONDS = env_int("TRANSACTIONAL_RETRY_SECONDS", default=300, minimum=0)
# DRF reads a JSON body through Django's request.body, capped by this; the API's own
# limits above (per route) are the ones that apply.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_IMPORT_BYTES, API_MAX_BODY_BYTES)
OAUTH2_PROVIDER = {
    "SCOPES_BACKEND_CLASS": "api.scopes.ClientScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": API_TOKEN_SECONDS,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
# django-oauth-toolkit's own models (named so that migrations can refer to them).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
REST_FRAMEWORK: dict[str, Any] = {
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Email API v1 (Listrak dialect)",
    "DESCRIPTION": (
        "Listrak's Email API v1, served by this platform: point a Listrak client's token URL "
        "at /OAuth2/Token and its API root at /email/v1/."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/email/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Programs use bearer tokens; the admin session only serves the browsable API.
    "AUTHENTICATION_WHITELIST": ["api.base.BearerAuthentication"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.listrak_paths",
    ],
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
}

# --- Conductor ----------------------------------------------------------------
# A worker that dies leaves the contacts it claimed (and an email it was sending)
# to others after this long; keep it above the time one batch takes.
CONDUCTOR_LEASE_SECONDS = env_int("CONDUCTOR_LEASE_SECONDS", default=300, minimum=1)
# The bounce and complaint webhook (/webhooks/email-feedback/) accepts requests
# bearing this secret; empty (the default) turns the webhook off.
EMAIL_FEEDBACK_SECRET = env_str("EMAIL_FEEDBACK_SECRET", default="")
if 0 < len(EMAIL_FEEDBACK_SECRET) < 16:
    raise ImproperlyConfigured(
        "Environment variable EMAIL_FEEDBACK_SECRET is too short: use at least 16 random "
        "characters (anyone who guesses it can unsubscribe your contacts)."
    )
# A purchase this many days after a click in an email counts as its conversion.
CONVERSION_WINDOW_DAYS = env_int("CONVERSION_WINDOW_DAYS", default=7, minimum=1)

# --- Subscription points (signups/) ---------------------------------------------
# Cross-origin requests are granted on the signup paths only, and there only to
# the origins each point allows (signups/cors.py answers django-cors-headers'
# check_request_enabled); no origin is allowed site-wide.
CORS_URLS_REGEX = r"^/s/[A-Za-z0-9_-]+/"
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
CORS_PREFLIGHT_MAX_AGE = 3600
#: Posts one address may make to all points together in SIGNUP_LIMIT_MINUTES.
SIGNUP_LIMIT_PER_ADDRESS = env_int("SIGNUP_LIMIT_PER_ADDRESS", default=20, minimum=1)
SIGNUP_LIMIT_MINUTES = env_int("SIGNUP_LIMIT_MINUTES", default=10, minimum=1)
#: A form sent sooner than this after it was shown is a bot's.
SIGNUP_MIN_FILL_SECONDS = env_int("SIGNUP_MIN_FILL_SECONDS", default=2, minimum=0)
#: Largest signup post; a larger one gets 413 and changes nothing.
SIGNUP_MAX_BODY_BYTES = env_int("SIGNUP_MAX_BODY_BYTES", default=16384, minimum=1024)
#: The header in which the proxy in front puts the visitor's address (X-Real-IP,
#: or X-Forwarded-For: its last entry), for the per-address limit. Empty: the
#: connection's address, which behind a proxy is the proxy's for every visitor.
SIGNUP_CLIENT_ADDRESS_HEADER = env_str("SIGNUP_CLIENT_ADDRESS_HEADER", default="")
if not re.fullmatch(r"[A-Za-z0-9-]*", SIGNUP_CLIENT_ADDRESS_HEADER):
    raise ImproperlyConfigured(
        f"Environment variable SIGNUP_CLIENT_ADDRESS_HEADER is invalid: "
        f"{SIGNUP_CLIENT_ADDRESS_HEADER!r}; expected a header name such as X-Real-IP."
    )

# --- Segment ------------------------------------------------------------------
# Seconds before a request to Segment gives up (connecting, and each read).
SEGMENT_TIMEOUT_SECONDS = env_int("SEGMENT_TIMEOUT_SECONDS", default=10, minimum=1)
# How long a worker's hold on a shard of the outbox lasts (renewed as it sends);
# a worker that dies leaves its shard to the others after this long.
SEGMENT_LEASE_SECONDS = env_int("SEGMENT_LEASE_SECONDS", default=60, minimum=2)
if SEGMENT_LEASE_SECONDS < 2 * SEGMENT_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        f"Environment variable SEGMENT_LEASE_SECONDS={SEGMENT_LEASE_SECONDS} is invalid: "
        f"expected at least twice SEGMENT_TIMEOUT_SECONDS ({2 * SEGMENT_TIMEOUT_SECONDS}), "
        "so that a request always ends within the lease."
    )
# A message is dead-lettered after this many failed attempts, or once this old.
SEGMENT_MAX_ATTEMPTS = env_int("SEGMENT_MAX_ATTEMPTS", default=30, minimum=1)
SEGMENT_MAX_AGE_SECONDS = env_int("SEGMENT_MAX_AGE_SECONDS", default=86_400, minimum=1)
# Retries wait about base * 2^(attempt - 1) seconds (half of it random), at most max.
SEGMENT_RETRY_BASE_SECONDS = env_int("SEGMENT_RETRY_BASE_SECONDS", default=1, minimum=1)
SEGMENT_RETRY_MAX_SECONDS = env_int("SEGMENT_RETRY_MAX_SECONDS", default=300, minimum=1)
# How long a process trusts its list of synced lists, sparing a query per contact
# change on lists no integration syncs. A list added to an integration is
# backfilled this long after, so that by then every process writes its messages.
SEGMENT_LIST_CACHE_SECONDS = env_int("SEGMENT_LIST_CACHE_SECONDS", default=10, minimum=0)
# The origins an integration's endpoint may have: Segment's own hosts, or the
# proxies an operator lists (anything else would let staff aim the workers at
# any host the server reaches). Stored as origins, e.g. "https://api.segment.io".
SEGMENT_ALLOWED_HOSTS = env_parsed(
    "SEGMENT_ALLOWED_HOSTS",
    default=",".join(SEGMENT_HOSTS),
    parse=parse_allowed_hosts,
    expected="expected comma-separated host names or origins such as https://proxy.internal:8443",
)

# --- Logging ------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"Environment variable LOG_LEVEL={LOG_LEVEL!r} is invalid: "
        "expected DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # django-axes logs every sign-in at INFO; its warnings (lockouts) are what matter.
    "loggers": {"axes": {"level": "WARNING" if LOG_LEVEL in {"DEBUG", "INFO"} else LOG_LEVEL}},
}

# --- Security in production ---------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

"""Django settings for partialauto.

Process settings come from the environment (django-environ); runtime controls (partial-auto switch,
test mode, threshold, phases, business hours, rules) live in the database. See ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path

import environ

from partialauto.localkeys import local_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))  # the OS environment wins over .env

LOCAL_KEYS_FILE = Path(env("CS_LOCAL_KEYS_FILE", default=str(BASE_DIR / "var" / "local-keys.json")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or local_key(LOCAL_KEYS_FILE, "DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Credentials of market accounts are encrypted at rest with this key (Fernet). Several keys may be
# given comma-separated: the first encrypts, all decrypt (key rotation).
CS_FIELD_ENCRYPTION_KEY = env("CS_FIELD_ENCRYPTION_KEY", default="") or local_key(
    LOCAL_KEYS_FILE, "CS_FIELD_ENCRYPTION_KEY"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "partialauto.apps.TaskQueueConfig",  # django_q, with Korean model names
    "simple_history",
    "markets",
    "inquiries",
    "policy",
]

MIDDLEWARE = [
    # /healthz and /readyz for the load balancer: answered before the host check and the HTTPS redirect
    "partialauto.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # static files (the admin's CSS and JS) from the web process itself, in every mode
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "partialauto.urls"
WSGI_APPLICATION = "partialauto.wsgi.application"
ASGI_APPLICATION = "partialauto.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'partialauto.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # Workers and the web process share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30})
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
# Persistent connections (seconds): django-q2 workers call close_old_connections() before every task,
# and the broker before every enqueue; with 0 each of those opened a new PostgreSQL connection. The
# health check drops a connection the database has closed before it is used again.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="ko-kr")
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` copies the admin's CSS and JS here (the deploy's release step and `demo --serve` run it).
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
# WhiteNoise serves them with content-hashed names (cached for good by browsers) and gzip: no static
# file server needed. Without DEBUG the hashed names come from the manifest `collectstatic` writes.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# --- security (production values; `check --deploy` passes with DJANGO_DEBUG off and HTTPS on) ---
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG and SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=False) else None
)
X_FRAME_OPTIONS = "DENY"

# --- mail (rollback notifications) ---
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="partialauto@localhost")
CS_SITE_URL = env("CS_SITE_URL", default="http://127.0.0.1:8000")

# --- the guide's variables: at run time they can only make things safer (DESIGN §1.4) ---
REDIS_URL = env("REDIS_URL", default="")
CS_LLM_BASE_URL = env("CS_LLM_BASE_URL", default="")
CS_LLM_API_KEY = env("CS_LLM_API_KEY", default="")
CS_LLM_MODEL = env("CS_LLM_MODEL", default="")
CS_METRICS_TOKEN = env("CS_METRICS_TOKEN", default="")

# --- django-q2 (see research/reliability.md §5 for why each value is what it is) ---
Q_WORKERS = env.int("CS_Q_WORKERS", default=2)
Q_TIMEOUT = 60  # integer seconds: signal.alarm() rejects floats
Q_CLUSTER = {
    "name": "partialauto",
    "workers": Q_WORKERS,
    "timeout": Q_TIMEOUT,
    # retry > timeout × (1 + queue_limit / workers) + margin, so a prefetched task is never handed
    # out twice while it waits or runs.
    "retry": Q_TIMEOUT * 3 + 30,
    "queue_limit": Q_WORKERS,
    "bulk": 1,
    "ack_failures": True,
    "max_attempts": 1,
    "catch_up": False,
    "guard_cycle": 0.5,
    "save_limit": 500,
    "recycle": 500,
    "max_rss": 150_000,
    "label": "작업 큐",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if env.bool("CS_Q_SYNC", default=False):
    Q_CLUSTER["sync"] = True

# --- logging: CS_LOG_FILE (default api.log) and stderr ---
CS_LOG_FILE = env("CS_LOG_FILE", default=str(BASE_DIR / "api.log"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(levelname)s] %(name)s %(process)d: %(message)s"},
    },
    "filters": {"redact": {"()": "partialauto.logging.RedactSecretsFilter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
            "level": env("CS_LOG_LEVEL_STDERR", default="WARNING"),
        },
        "file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": CS_LOG_FILE,
            "formatter": "plain",
            "filters": ["redact"],
            "encoding": "utf-8",
            "delay": True,
        },
    },
    "loggers": {
        "partialauto": {
            "handlers": ["stderr", "file"],
            "level": env("CS_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
        # django-q2 logs as "django-q" (with a hyphen): worker starts, reincarnations, task failures.
        "django-q": {"handlers": ["stderr", "file"], "level": "INFO", "propagate": False},
        "django_q": {"handlers": ["stderr", "file"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}

# The guide's .env variables (phase 2–4). Unset means "no opinion". At run time they can only
# tighten what the database says; `rollout import-env` copies them into the database.
CS_ENV_ENABLE_PARTIAL_AUTO = env.bool("ENABLE_CS_PARTIAL_AUTO", default=None)
CS_ENV_TEST_MODE = env.bool("CS_TEST_MODE", default=None)
CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS = env("CS_TEST_MODE_ALLOWED_ACCOUNTS", default=None)
CS_ENV_AUTO_SEND_THRESHOLD = env.float("CS_AUTO_SEND_THRESHOLD", default=None)
CS_RECONCILE_QUIET_SECONDS = env.int("CS_RECONCILE_QUIET_SECONDS", default=30)
# Marketplace HTTP timeouts (connect, read) in seconds. Coupang's gateway answers within 3 s by default.
CS_MARKET_CONNECT_TIMEOUT = env.float("CS_MARKET_CONNECT_TIMEOUT", default=3.05)
CS_MARKET_READ_TIMEOUT = env.float("CS_MARKET_READ_TIMEOUT", default=10.0)

# A cache shared by every worker process when Redis is configured (Naver access tokens are then
# issued once per account, not once per process); otherwise each process keeps its own.
CACHES = (
    {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "partialauto",
        }
    }
    if REDIS_URL
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)
# Back-off between send attempts after a definite failure: base × 2^(attempt-1), capped, with jitter.
CS_SEND_BACKOFF_BASE_SECONDS = env.float("CS_SEND_BACKOFF_BASE_SECONDS", default=30.0)
CS_SEND_BACKOFF_CAP_SECONDS = env.float("CS_SEND_BACKOFF_CAP_SECONDS", default=1800.0)
# Marketplace calls one send sweep keeps in flight at once (per worker process). A sweep claims at most
# this many rows at a time (and at most 32); the gates are checked and the leases renewed for the group
# right before its calls start, so an emergency stop lets at most this many calls per worker finish and
# stops every later one. 1 checks the gates before every single call. SQLite (one process, tests and
# the demo) always uses 1.
CS_SEND_CONCURRENCY = env.int("CS_SEND_CONCURRENCY", default=32)
# Coupang lists order sheets by order date, so every order sync lists this many past days again to see
# status changes of older orders (more days: more calls per sync).
CS_ORDER_ACTIVE_DAYS = env.int("CS_ORDER_ACTIVE_DAYS", default=14)

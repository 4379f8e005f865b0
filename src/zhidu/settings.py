"""Django settings. Everything a deployment changes comes from the environment (see README)."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("ZHIDU_VAR_DIR", PROJECT_DIR / "var"))
PACKS_DIR = Path(os.environ.get("ZHIDU_PACKS_DIR", PROJECT_DIR / "packs"))
DEFAULT_PACK = os.environ.get("ZHIDU_DEFAULT_PACK", "s01-prosthetics")

DEBUG = os.environ.get("ZHIDU_DEBUG", "0") == "1"


def _key_from_env_or_file(variable: str, file_name: str) -> str:
    """A key from the environment or, in the embedded default, generated once into VAR_DIR."""
    key = os.environ.get(variable, "")
    if key:
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / file_name
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _key_from_env_or_file("ZHIDU_SECRET_KEY", "secret_key")
# Keys the audit log's HMAC chain. Kept outside the database, so SQL access alone cannot re-forge the chain.
ZHIDU_AUDIT_KEY = _key_from_env_or_file("ZHIDU_AUDIT_KEY", "audit_key")

ALLOWED_HOSTS = [h for h in os.environ.get("ZHIDU_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("ZHIDU_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # its templates and static files: the API docs page without a CDN
    "zhidu.kernel",
    "zhidu.org",
    "zhidu.customers",
    "zhidu.grading",
    "zhidu.admission",
    "zhidu.credit",
    "zhidu.complaints",
    "zhidu.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "zhidu.org.middleware.SessionExpiryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zhidu.urls"
WSGI_APPLICATION = "zhidu.wsgi.application"

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
                "django.template.context_processors.i18n",
                "zhidu.web.context.navigation",
            ],
        },
    },
]

SQLITE_PATH = VAR_DIR / "zhidu.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{SQLITE_PATH}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("ZHIDU_CONN_MAX_AGE", "60")))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "org.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "zhidu.org.passwords.PolicyMinimumLengthValidator"},  # org.password.min_length from the pack
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "zhidu.org.passwords.CharacterClassValidator"},
]

# Sessions end after this many seconds without a request (renewed on every request).
SESSION_COOKIE_AGE = int(os.environ.get("ZHIDU_SESSION_SECONDS", str(8 * 3600)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("ZHIDU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from the finders; it only needs the folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("ZHIDU_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
ZHIDU_IMPORT_MAX_BYTES = int(os.environ.get("ZHIDU_IMPORT_MAX_BYTES", str(512 * 1024 * 1024)))
# Where uploaded imports run: "auto" (Celery when a broker is set, else a thread of the web process),
# "thread", "celery", or "inline" (inside the upload request; tests and tiny installations).
ZHIDU_IMPORT_RUNNER = os.environ.get("ZHIDU_IMPORT_RUNNER", "auto")
ZHIDU_DOCUMENT_MAX_BYTES = int(os.environ.get("ZHIDU_DOCUMENT_MAX_BYTES", str(20 * 1024 * 1024)))

# Background work: in-process scheduler unless a broker is configured, then Celery worker + beat.
CELERY_BROKER_URL = os.environ.get("ZHIDU_BROKER_URL", os.environ.get("CELERY_BROKER_URL", ""))
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE

_email_host = os.environ.get("ZHIDU_EMAIL_HOST", "")
EMAIL_ENABLED = bool(_email_host)
MAILERS = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": int(os.environ.get("ZHIDU_EMAIL_PORT", "25")),
                "username": os.environ.get("ZHIDU_EMAIL_USER", ""),
                "password": os.environ.get("ZHIDU_EMAIL_PASSWORD", ""),
                "use_tls": os.environ.get("ZHIDU_EMAIL_TLS", "0") == "1",
            },
        }
        if EMAIL_ENABLED
        else {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = os.environ.get("ZHIDU_EMAIL_FROM", "zhidu@localhost")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ZHIDU_LOG_LEVEL", "WARNING")},
}

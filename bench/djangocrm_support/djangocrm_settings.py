"""Settings of DjangoCRM (django-crm-admin from PyPI) for the side-by-side benchmark.

Its own `webcrm.settings` with the PostgreSQL engine its settings file documents, the database and the
folders of this run, and DEBUG off as in production. Loaded by the venv under bench/var/djangocrm/
(PYTHONPATH=bench/djangocrm_support, DJANGO_SETTINGS_MODULE=djangocrm_settings)."""

import os
from pathlib import Path

from webcrm.settings import *  # noqa: F403

_VAR = Path(os.environ["DJANGOCRM_VAR_DIR"])

DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
SECRET_KEY = os.environ.get("DJANGOCRM_SECRET_KEY", "bench-only-" + "x" * 40)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["DJANGOCRM_DB_NAME"],
        "USER": os.environ.get("DJANGOCRM_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("DJANGOCRM_DB_PASSWORD", ""),
        "HOST": os.environ.get("DJANGOCRM_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DJANGOCRM_DB_PORT", "5432"),
        # The same persistent connections as zhidu's production settings (ZHIDU_CONN_MAX_AGE, 60 s).
        "CONN_MAX_AGE": 60,
    }
}

LANGUAGE_CODE = "en"
STATIC_ROOT = _VAR / "static"
MEDIA_ROOT = _VAR / "media"
GEOIP_PATH = MEDIA_ROOT / "geodb"
MEDIA_ROOT.mkdir(parents=True, exist_ok=True)  # its e-mail importer keeps lock files there
LOAD_EXCHANGE_RATE = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

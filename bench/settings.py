"""Settings for the benchmarks: zhidu's own, plus a minimal view to compare the server against, and a
fast password hasher so that creating the benchmark's few hundred owner accounts does not take minutes
(no benchmark measures logging in)."""

from zhidu.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]

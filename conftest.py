"""Fixtures shared by every test of the project.

`pack`: apply a regulation pack in the test database, e.g. `pack("s01-prosthetics")`; returns the
PackVersion. Keyword arguments go to `policy.apply` (effective_from, user).
"""

import pytest


@pytest.fixture(autouse=True)
def _fresh_policy_cache():
    # The current pack version is cached per process; each test starts from its own database state.
    from zhidu.kernel import policy

    policy.clear_cache()
    yield
    policy.clear_cache()


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Cached values (dashboard counts) are keyed by ids that repeat across rolled-back test databases.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pack(db):
    from zhidu.kernel import policy

    def apply(name_or_path="s01-prosthetics", **kwargs):
        return policy.apply(name_or_path, **kwargs)

    return apply


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashing takes about a second per password by design; tests only need it to be correct.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    # A request in English activates English for the thread; the next test starts in Chinese again.
    from django.utils import translation

    yield
    translation.activate("zh-hans")

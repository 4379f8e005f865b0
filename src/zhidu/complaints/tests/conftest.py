"""Fixtures for complaint tests: the customers test organisation (org, make_customer) plus the people
complaint handling needs: a quality manager (质量经理), service agents, a second general manager."""

from types import SimpleNamespace

import pytest

from zhidu.customers.tests.conftest import make_customer, org  # noqa: F401  (fixtures)
from zhidu.kernel.access import SecretLevel


@pytest.fixture
def cx(org):  # noqa: F811  (the imported fixture)
    from zhidu.org.models import User

    def user(username, role, department, clearance=SecretLevel.SECRET):
        return User.objects.create(username=username, display_name=username, role=org.roles[role], department=department,
                                   clearance=clearance, phone="")

    return SimpleNamespace(
        org=org,
        qm=user("qm", "quality_manager", org.root),
        qm2=user("qm2", "quality_manager", org.root),
        agent=user("agent", "service_agent", org.dept_a, SecretLevel.PUBLIC),
        agent2=user("agent2", "service_agent", org.dept_a, SecretLevel.PUBLIC),
        agent_b=user("agent_b", "service_agent", org.dept_b, SecretLevel.PUBLIC),
        gm2=user("gm2", "general_manager", org.root, SecretLevel.TOP_SECRET),
    )


@pytest.fixture
def at(settings):
    """Freezes "now" for the services and the calendar: at("2026-09-30T10:00")."""
    import datetime as dt
    from unittest import mock

    from django.utils import timezone

    patches = []

    def freeze(text):
        for p in patches:
            p.stop()
        patches.clear()
        moment = timezone.make_aware(dt.datetime.fromisoformat(text)) if isinstance(text, str) else text
        p = mock.patch("django.utils.timezone.now", return_value=moment)
        p.start()
        patches.append(p)
        return moment

    yield freeze
    for p in patches:
        p.stop()

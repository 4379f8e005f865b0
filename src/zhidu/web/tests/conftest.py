# The test organisation (departments, one user per role) and the customer factory of the archive tests.
import pytest
from django.utils import translation

from zhidu.customers.tests.conftest import make_customer, org  # noqa: F401


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    # A request in English leaves English active in this thread; later tests expect the default.
    yield
    translation.deactivate()

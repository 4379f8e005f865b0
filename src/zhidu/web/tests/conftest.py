# The test organisation (departments, one user per role) and the customer factory of the archive tests.
from zhidu.customers.tests.conftest import make_customer, org  # noqa: F401

"""The first-run experience: `zhidu run` applies the default pack and loads the demo data once."""

import pytest
from stdnum.cn import uscc

from zhidu.admission.models import AdmissionApplication, AdmissionState
from zhidu.customers.models import Contact, Customer
from zhidu.demo import load
from zhidu.kernel import policy
from zhidu.org.models import Department, User


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.mark.django_db
def test_first_run_loads_pack_departments_users_and_customers(var_dir):
    assert load.ensure_demo() is True

    assert policy.current_version().name == "s01-prosthetics"
    assert Department.objects.count() == len(load.DEPARTMENTS)
    roles = set(User.objects.values_list("role__code", flat=True))
    assert {"general_manager", "dept_manager", "supervisor", "sales", "archivist", "sysadmin", "secadmin", "auditor"} <= roles
    # The demo's admitted applications enter the database (入库) as customers of their own.
    admitted = AdmissionApplication.objects.filter(state=AdmissionState.APPROVED).count()
    assert admitted >= 1
    assert Customer.objects.count() == load.CUSTOMER_COUNT + admitted
    assert all(uscc.is_valid(code) for code in Customer.objects.values_list("credit_code", flat=True))
    assert Contact.objects.filter(phone__regex=r"^1\d{10}$").count() >= load.CUSTOMER_COUNT
    assert Customer.objects.exclude(code=None).count() == load.CUSTOMER_COUNT + admitted


@pytest.mark.django_db
def test_second_run_keeps_the_data_and_prints_the_same_logins(var_dir):
    load.ensure_demo()
    first_logins = load.demo_logins()
    customer_ids = list(Customer.objects.values_list("id", flat=True))

    assert load.ensure_demo() is False
    assert load.demo_logins() == first_logins
    assert list(Customer.objects.values_list("id", flat=True)) == customer_ids
    assert oct((var_dir / load.LOGINS_FILE).stat().st_mode & 0o777) == "0o600"


@pytest.mark.django_db
def test_printed_demo_logins_work(var_dir, client):
    load.ensure_demo()
    username, _role, password = next(row for row in load.demo_logins() if row[0] == "sales")
    assert client.login(username=username, password=password)

import pytest

from zhidu.complaints import demo
from zhidu.complaints.models import Complaint, Status

pytestmark = pytest.mark.django_db


def test_demo_creates_cases_at_many_stages(cx, make_customer):
    customers = [make_customer() for _i in range(5)]
    users = {"agent": cx.agent, "sales": cx.org.sales_a, "quality": cx.qm, "manager": cx.org.manager_a, "gm": cx.org.gm}
    created = demo.load(users, customers)
    assert len(created) == 30
    statuses = set(Complaint.objects.values_list("status", flat=True))
    assert {Status.REGISTERED, Status.REJECTED, Status.ASSIGNED, Status.PLAN_PENDING, Status.CARRIED_OUT, Status.CLOSED} <= statuses
    assert Complaint.objects.filter(waiting_since__isnull=False).exists()
    assert Complaint.objects.filter(round=2).exists()

"""The archive's periodic jobs, run through the kernel's job runner."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zhidu.customers.models import AccessRequest
from zhidu.kernel import jobs


@pytest.mark.django_db
def test_expired_grants_are_marked_by_the_job(org, make_customer):
    customer = make_customer()
    now = timezone.now()
    live = AccessRequest.objects.create(customer=customer, requested_by=org.sales_b, reason="核对", days=3, state="approved", granted_until=now + timedelta(days=1))
    old = AccessRequest.objects.create(customer=customer, requested_by=org.sales_b, reason="核对", days=1, state="approved", granted_until=now - timedelta(minutes=1))

    jobs.run("customers.access_grants_expire", now=now, force=True)

    live.refresh_from_db()
    old.refresh_from_db()
    assert (live.state, old.state) == ("approved", "expired")

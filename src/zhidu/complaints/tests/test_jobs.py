import pytest

from zhidu.complaints import selectors, services
from zhidu.complaints.models import Complaint
from zhidu.kernel.errors import Conflict

from .flow import fresh, local, register, v

pytestmark = pytest.mark.django_db


def test_archive_job_is_one_update_over_due_cases(cx, at, django_assert_max_num_queries):
    at("2026-01-05T10:00")
    done = register(cx.agent, channel="phone")
    services.complaint_decide(cx.qm, done.pk, False, reply_text="不成立", expected_version=v(done))
    done2 = register(cx.agent, channel="phone")
    services.complaint_decide(cx.qm, done2.pk, False, reply_text="不成立", expected_version=v(done2))
    open_case = register(cx.agent, channel="phone")
    from zhidu.kernel.jobs import registry

    job = registry()["complaints.archive"]
    assert job.func(local("2027-01-04T10:00")).startswith("0 ")
    with django_assert_max_num_queries(8):  # the same few queries however many cases are due
        assert job.func(local("2027-01-05T10:00")) == "2 complaints archived"
    assert fresh(done).archived and not fresh(open_case).archived
    assert not selectors.complaint_list(cx.qm).items == []
    assert done.pk not in [x.pk for x in selectors.complaint_list(cx.qm).items]
    assert done.pk in [x.pk for x in selectors.complaint_list(cx.qm, filters={"archived": True}).items]
    with pytest.raises(Conflict):
        services.complaint_reopen(cx.qm, done.pk, reason="x", expected_version=v(done))
    assert Complaint.objects.filter(archived=True).count() == 2

"""Shortcuts for walking a case through its steps in tests (each reloads the version first)."""

import datetime as dt

from django.utils import timezone

from zhidu.complaints import services
from zhidu.complaints.models import Complaint


def local(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


def v(complaint) -> int:
    return Complaint.objects.get(pk=complaint.pk).version


def fresh(complaint) -> Complaint:
    return Complaint.objects.get(pk=complaint.pk)


def register(user, **data) -> Complaint:
    data.setdefault("complainant_name", "王先生")
    data.setdefault("complainant_phone", "13800138000")
    data.setdefault("subject", "服务问题")
    data.setdefault("content", "客户反映的问题经过")
    return services.complaint_register(user, data)


def due(complaint, key):
    from zhidu.complaints.selectors import complaint_deadlines

    rows = [d for d in complaint_deadlines(complaint) if d.policy_key == services.DEADLINE_PREFIX + key]
    return rows[-1] if rows else None


def approve_all(approval_id, *users):
    """Each user decides the step their role is asked for, in order."""
    from zhidu.kernel.models import ApprovalRequest

    for user in users:
        services.approval_decide(user, approval_id, True, comment="同意")
    return ApprovalRequest.objects.get(pk=approval_id)

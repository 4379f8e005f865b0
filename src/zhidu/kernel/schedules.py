"""Schedules: recurring obligations of the regulation (review every 6 months, visit VIPs monthly) as tasks.

`schedule_recurring` opens the first task; when a task is done, the next one is created `every` units after
the previous due date (so a late review does not push every later review back). One open task per kind
and target.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit, calendar
from zhidu.kernel.errors import Conflict, Invalid, NotFound
from zhidu.kernel.models import ScheduledTask

RECURRENCE_UNITS = ("calendar_days", "working_days", "months")


def _current_version():
    from zhidu.kernel import policy

    return policy.current_version()


def _clean_recurrence(every: int, unit: str) -> dict:
    if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
        raise Invalid(_("周期必须是正整数：%(every)s") % {"every": every})
    if unit not in RECURRENCE_UNITS:
        raise Invalid(_("周期单位必须是 %(units)s 之一") % {"units": ", ".join(RECURRENCE_UNITS)})
    return {"amount": every, "unit": unit}


def next_due_on(due_on: dt.date, recurrence: dict) -> dt.date:
    start = timezone.make_aware(dt.datetime.combine(due_on, dt.time(12, 0)))
    return timezone.localtime(calendar.add(start, recurrence["amount"], recurrence["unit"])).date()


def _create(**fields) -> ScheduledTask:
    try:
        with transaction.atomic():
            return ScheduledTask.objects.create(**fields)
    except IntegrityError:
        raise Conflict(_("该记录已有未完成的同类计划任务"), details={"kind": fields["kind"]}) from None


def schedule_once(kind: str, target, due_on: dt.date, *, title: str = "", source: str = "", assignee=None) -> ScheduledTask:
    target_type, target_id = audit.target_ref(target)
    return _create(kind=kind, target_type=target_type, target_id=target_id, title=str(title)[:200], due_on=due_on,
                   source=str(source)[:300], assignee=assignee, pack_version=_current_version())


def schedule_recurring(kind: str, target, first_due_on: dt.date, every: int, unit: str, *, title: str = "",
                       source: str = "", assignee=None) -> ScheduledTask:
    """Opens the first task of a recurring obligation, e.g. every 6 months from `first_due_on`."""
    recurrence = _clean_recurrence(every, unit)
    target_type, target_id = audit.target_ref(target)
    return _create(kind=kind, target_type=target_type, target_id=target_id, title=str(title)[:200], due_on=first_due_on,
                   recurrence=recurrence, source=str(source)[:300], assignee=assignee, pack_version=_current_version())


def task_done(task, user, *, note: str = "", request=None) -> tuple[ScheduledTask, ScheduledTask | None]:
    """Marks an open task done and, for a recurring one, opens the next. Returns (done task, next task)."""
    pk = task.pk if isinstance(task, ScheduledTask) else task
    with transaction.atomic():
        row = ScheduledTask.objects.select_for_update().filter(pk=pk).first()
        if row is None:
            raise NotFound(_("计划任务不存在"))
        if row.state != ScheduledTask.State.OPEN:
            raise Conflict(_("该计划任务已处理"), details={"state": row.state})
        row.state, row.done_at, row.done_by = ScheduledTask.State.DONE, timezone.now(), user
        row.save(update_fields=["state", "done_at", "done_by"])
        following = None
        if row.recurrence:
            following = _create(
                kind=row.kind, target_type=row.target_type, target_id=row.target_id, title=row.title,
                due_on=next_due_on(row.due_on, row.recurrence), recurrence=row.recurrence, source=row.source,
                assignee=row.assignee, previous=row, pack_version=_current_version(),
            )
        audit.record(user, "schedule.task_done", row, {"kind": row.kind, "target": f"{row.target_type}:{row.target_id}",
                                                       "due_on": row.due_on.isoformat(), "note": note,
                                                       "next_due_on": following.due_on.isoformat() if following else None},
                     request=request)
    return row, following


def cancel_open(kind: str, target, user, *, request=None) -> int:
    """Stops a recurring obligation for a target (e.g. the customer left): cancels its open task."""
    target_type, target_id = audit.target_ref(target)
    with transaction.atomic():
        cancelled = ScheduledTask.objects.filter(kind=kind, target_type=target_type, target_id=target_id,
                                                 state=ScheduledTask.State.OPEN).update(state=ScheduledTask.State.CANCELLED)
        if cancelled:
            audit.record(user, "schedule.cancelled", (target_type, target_id), {"kind": kind}, request=request)
    return cancelled


def due_tasks(on: dt.date, *, assignee=None, kind: str = "", after_id: int | None = None, limit: int = 100):
    """Open tasks due on or before `on`, oldest due first (keyset by (due_on, id) is the caller's job via after_id)."""
    qs = ScheduledTask.objects.filter(state=ScheduledTask.State.OPEN, due_on__lte=on).order_by("due_on", "id")
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    if kind:
        qs = qs.filter(kind=kind)
    if after_id:
        qs = qs.filter(id__gt=after_id)
    return list(qs[:limit])

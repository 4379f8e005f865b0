"""Deadlines: timers on any record, computed from a pack parameter and the working-day calendar.

A deadline is due, paused, met or breached. `sweep(now)` marks every overdue deadline breached with one
set-based UPDATE over the (state, due_at) index, then runs the escalation ladders. A ladder is copied
from the pack when the deadline starts, e.g.

    [{"after": "0 hours", "notify": "owner"},
     {"after": "1 working_days", "notify": "manager"},
     {"after": "3 working_days", "notify": "quality_director"}]

`after` is measured from the due time (a negative amount is a reminder before it). `notify` is "owner",
"manager" (resolved by the app that owns the target type, see `register_resolver`) or a role code.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit, calendar, notify
from zhidu.kernel.errors import Conflict, Invalid
from zhidu.kernel.models import Deadline

CHUNK = 1000
# A ladder step whose time falls in a year without holiday data is tried again this much later (the
# admin is told by the calendar error elsewhere; other deadlines' escalations go on meanwhile).
CALENDAR_RETRY = timedelta(hours=6)
RELATIVE_NOTIFY = ("owner", "manager")
_AFTER = re.compile(r"^\s*(-?\d+)\s+([a-z_]+)\s*$")

# target_type -> fn(who: "owner" | "manager", target_ids: list[str]) -> {target_id: [user_id, …]}
_resolvers: dict[str, Callable] = {}


def register_resolver(target_type: str, resolver: Callable) -> None:
    """The app owning `target_type` ("complaints.complaint") says who its "owner" and "manager" are,
    for many targets at once."""
    _resolvers[target_type] = resolver


@dataclass(frozen=True)
class SweepResult:
    breached: int
    escalated: int
    notified: int


def parse_after(text: str) -> tuple[int, str]:
    match = _AFTER.match(str(text))
    if not match or match.group(2) not in calendar.UNITS:
        raise Invalid(
            _("升级阶梯的时间“%(text)s”无效：应为“数量 单位”，单位为 %(units)s 之一")
            % {"text": text, "units": ", ".join(calendar.UNITS)}
        )
    return int(match.group(1)), match.group(2)


def _clean_ladder(ladder) -> list[dict]:
    steps = getattr(ladder, "value", ladder) or []
    cleaned = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not step.get("notify"):
            raise Invalid(_("升级阶梯第 %(n)d 步没有指定通知对象") % {"n": index + 1})
        parse_after(step.get("after", "0 hours"))
        cleaned.append({"after": str(step.get("after", "0 hours")), "notify": str(step["notify"])})
    return cleaned


class _CalendarMemo:
    """calendar.add for the many deadlines of one sweep. A day-based unit keeps the time of day, so its
    result depends only on the local date it starts from: each (date, amount, unit) is worked out once
    instead of once per deadline (the calendar loads its holiday data on every call)."""

    DAY_UNITS = ("calendar_days", "working_days", "trading_days")

    def __init__(self):
        self._days: dict[tuple, object] = {}
        self._tz = timezone.get_current_timezone()

    def add(self, start, amount: int, unit: str):
        if unit not in self.DAY_UNITS or amount == 0:
            return calendar.add(start, amount, unit)
        local = start.astimezone(self._tz)
        key = (local.date(), amount, unit)
        day = self._days.get(key)
        if day is None:
            day = self._days[key] = calendar.add(local, amount, unit).date()
        return calendar._at(day, local.time(), local.tzinfo)


def _escalation_time(deadline: Deadline, level: int, memo: _CalendarMemo | None = None):
    if level >= len(deadline.ladder):
        return None
    amount, unit = parse_after(deadline.ladder[level]["after"])
    return (memo or calendar).add(deadline.due_at, amount, unit)


def _current_version():
    from zhidu.kernel import policy

    return policy.current_version()


def deadline_start(target, key: str, start, amount: int, unit: str, source: str = "", *, ladder=None,
                   ladder_source: str = "", title: str = "", link: str = "") -> Deadline:
    """Starts the timer `key` on `target`: due at calendar.add(start, amount, unit). One open timer per
    target and key."""
    if unit not in calendar.UNITS:
        raise Invalid(_("未知的时限单位：%(unit)s") % {"unit": unit})
    target_type, target_id = audit.target_ref(target)
    steps = _clean_ladder(ladder)
    relative = {step["notify"] for step in steps} & set(RELATIVE_NOTIFY)
    if relative and target_type not in _resolvers:
        raise Invalid(_("升级阶梯要通知“%(who)s”，但 %(type)s 没有登记负责人解析") % {"who": "/".join(sorted(relative)), "type": target_type})
    deadline = Deadline(
        target_type=target_type,
        target_id=target_id,
        policy_key=key,
        title=str(title)[:200],
        link=link,
        started_at=start,
        amount=amount,
        unit=unit,
        due_at=calendar.add(start, amount, unit),
        source=str(source or "")[:300],
        ladder=steps,
        ladder_source=str(ladder_source or getattr(ladder, "source", "") or "")[:300],
        pack_version=_current_version(),
    )
    deadline.next_escalation_at = _escalation_time(deadline, 0)
    try:
        with transaction.atomic():
            deadline.save()
    except IntegrityError:
        raise Conflict(_("该记录的时限“%(key)s”已在计时中") % {"key": key}, details={"policy_key": key}) from None
    return deadline


def _locked(deadline) -> Deadline:
    pk = deadline.pk if isinstance(deadline, Deadline) else deadline
    return Deadline.objects.select_for_update().get(pk=pk)


def deadline_pause(deadline, at=None) -> Deadline:
    """Stops the clock (e.g. while waiting for the customer). Only a running timer can pause."""
    at = at or timezone.now()
    with transaction.atomic():
        row = _locked(deadline)
        if row.state != Deadline.State.DUE:
            raise Conflict(_("只有计时中的时限可以暂停"), details={"state": row.state})
        row.state, row.paused_at = Deadline.State.PAUSED, at
        row.save(update_fields=["state", "paused_at"])
    return row


def deadline_resume(deadline, at=None) -> Deadline:
    """Restarts the clock; the due time (and pending escalations) move later by the time spent paused."""
    at = at or timezone.now()
    with transaction.atomic():
        row = _locked(deadline)
        if row.state != Deadline.State.PAUSED:
            raise Conflict(_("只有已暂停的时限可以恢复"), details={"state": row.state})
        shift = max(at - row.paused_at, timedelta(0))
        row.due_at += shift
        if row.next_escalation_at is not None:
            row.next_escalation_at += shift
        row.paused_total += shift
        row.state, row.paused_at = Deadline.State.DUE, None
        row.save(update_fields=["due_at", "next_escalation_at", "paused_total", "state", "paused_at"])
    return row


def deadline_met(deadline, at=None) -> Deadline:
    """The obligation was fulfilled. A deadline met after its breach keeps `breached_at` (late)."""
    at = at or timezone.now()
    with transaction.atomic():
        row = _locked(deadline)
        if row.state == Deadline.State.MET:
            return row
        row.state, row.met_at, row.paused_at, row.next_escalation_at = Deadline.State.MET, at, None, None
        row.save(update_fields=["state", "met_at", "paused_at", "next_escalation_at"])
    return row


def deadline_extend(deadline, amount: int, unit: str, at=None, *, source: str | None = None) -> Deadline:
    """Gives an open timer a new length (e.g. an approved extension): due at calendar.add(started_at,
    amount, unit) plus the time already spent paused; the escalation ladder starts again from its first
    step. A breached timer whose new due time is still ahead of `at` runs again. `source`, when given,
    replaces the citation."""
    at = at or timezone.now()
    if unit not in calendar.UNITS:
        raise Invalid(_("未知的时限单位：%(unit)s") % {"unit": unit})
    with transaction.atomic():
        row = _locked(deadline)
        if row.state == Deadline.State.MET:
            raise Conflict(_("已完成的时限不能延长"), details={"state": row.state})
        row.amount, row.unit = amount, unit
        row.due_at = calendar.add(row.started_at, amount, unit) + row.paused_total
        if source is not None:
            row.source = str(source)[:300]
        if row.state == Deadline.State.BREACHED and row.due_at > at:
            row.state, row.breached_at = Deadline.State.DUE, None
        row.escalation_level = 0
        row.next_escalation_at = _escalation_time(row, 0)
        row.save(update_fields=["amount", "unit", "due_at", "source", "state", "breached_at", "escalation_level", "next_escalation_at"])
    return row


def for_target(target) -> list[Deadline]:
    target_type, target_id = audit.target_ref(target)
    return list(Deadline.objects.filter(target_type=target_type, target_id=target_id).order_by("id"))


def open_for_target(target, key: str) -> Deadline | None:
    target_type, target_id = audit.target_ref(target)
    return Deadline.objects.filter(target_type=target_type, target_id=target_id, policy_key=key,
                                   state__in=[Deadline.State.DUE, Deadline.State.PAUSED]).first()


def _recipients(batch: list[Deadline]) -> dict[int, set[int]]:
    """deadline id -> user ids to notify for the ladder step each deadline is at."""
    from zhidu.kernel.approvals import role_holders

    wanted: dict[tuple[str, str], list[Deadline]] = {}
    for deadline in batch:
        who = deadline.ladder[deadline.escalation_level]["notify"]
        wanted.setdefault((deadline.target_type, who), []).append(deadline)
    result: dict[int, set[int]] = {d.pk: set() for d in batch}
    role_cache: dict[str, list[int]] = {}
    for (target_type, who), deadlines in wanted.items():
        if who in RELATIVE_NOTIFY:
            resolver = _resolvers.get(target_type)
            if resolver is None:
                raise LookupError(f"no deadline resolver registered for {target_type!r} (needed for {who!r})")
            by_target = resolver(who, sorted({d.target_id for d in deadlines}))
            for d in deadlines:
                result[d.pk].update(by_target.get(d.target_id, ()))
        else:
            if who not in role_cache:
                role_cache[who] = list(role_holders(who).values_list("pk", flat=True))
            for d in deadlines:
                result[d.pk].update(role_cache[who])
    return result


def _notify_batch(batch: list[Deadline], now) -> int:
    recipients = _recipients(batch)
    messages = []
    overdue_title, reminder_title = _("已超时：%(label)s"), _("即将到期：%(label)s")
    body_text = _("时限 %(due)s（依据：%(source)s）；第 %(level)d 级提醒")
    tz = timezone.get_current_timezone()
    for deadline in batch:
        users = recipients[deadline.pk]
        if not users:
            continue
        label = deadline.title or f"{deadline.target_type}:{deadline.target_id} {deadline.policy_key}"
        overdue = deadline.due_at <= now
        title = (overdue_title if overdue else reminder_title) % {"label": label}
        body = body_text % {
            "due": deadline.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "source": deadline.source or deadline.policy_key,
            "level": deadline.escalation_level + 1,
        }
        messages.append((sorted(users), title, body, deadline.link, "deadline"))
    return notify.send_many(messages)


def _next_escalation_or_retry(deadline: Deadline, now, memo: _CalendarMemo | None = None):
    try:
        return _escalation_time(deadline, deadline.escalation_level, memo)
    except calendar.CalendarDataMissing:
        return now + CALENDAR_RETRY


def _step_is_due(deadline: Deadline, now, memo: _CalendarMemo | None = None) -> bool:
    """Whether the ladder step the deadline is at is due now. A step put off for lack of holiday data is
    worked out again: still unknown → tried later; known and still ahead → waits for its time."""
    when = _next_escalation_or_retry(deadline, now, memo)
    if when is not None and when <= now:
        return True
    deadline.next_escalation_at = when
    return False


class _Timer:
    """The columns of a Deadline the escalation needs, without building model instances (a sweep after
    an outage may walk tens of thousands)."""

    __slots__ = ("id", "target_type", "target_id", "policy_key", "title", "link", "due_at", "source", "ladder",
                 "escalation_level", "next_escalation_at")

    def __init__(self, values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)

    @property
    def pk(self):
        return self.id


def _save_escalations(batch: list[_Timer]) -> None:
    """Writes each deadline's ladder position: on PostgreSQL one UPDATE … FROM (VALUES …) for the batch
    (a statement per row costs a round trip each), on SQLite an executemany of a plain UPDATE by
    primary key (in-process, no round trips). Either beats bulk_update's CASE over a thousand ids."""
    from django.db import connection

    if not batch:
        return
    field = Deadline._meta.get_field("next_escalation_at")
    table = connection.ops.quote_name(Deadline._meta.db_table)
    rows = [(d.pk, d.escalation_level, field.get_db_prep_save(d.next_escalation_at, connection)) for d in batch]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s::bigint, %s::integer, %s::timestamptz)"] * len(rows))
            cursor.execute(f"UPDATE {table} AS d SET escalation_level = v.level, next_escalation_at = v.next "
                           f"FROM (VALUES {values}) AS v(id, level, next) WHERE d.id = v.id", [x for row in rows for x in row])
        else:
            cursor.executemany(f"UPDATE {table} SET escalation_level = %s, next_escalation_at = %s WHERE id = %s",
                               [(level, when, pk) for pk, level, when in rows])


def sweep(now=None) -> SweepResult:
    """Marks overdue deadlines breached (one indexed UPDATE) and runs every ladder step that is due."""
    now = now or timezone.now()
    with transaction.atomic():
        breached = Deadline.objects.filter(state=Deadline.State.DUE, due_at__lte=now).update(
            state=Deadline.State.BREACHED, breached_at=now
        )
    escalated = notified = 0
    memo = _CalendarMemo()
    while True:
        with transaction.atomic():
            batch = [
                _Timer(values)
                for values in Deadline.objects.select_for_update()
                .filter(state__in=[Deadline.State.DUE, Deadline.State.BREACHED], next_escalation_at__lte=now)
                .order_by("next_escalation_at", "id")
                .values_list(*_Timer.__slots__)[:CHUNK]
            ]
            if not batch:
                break
            due = [deadline for deadline in batch if _step_is_due(deadline, now, memo)]
            notified += _notify_batch(due, now) if due else 0
            for deadline in due:
                deadline.escalation_level += 1
                deadline.next_escalation_at = _next_escalation_or_retry(deadline, now, memo)
            _save_escalations(batch)
            escalated += len(due)
    return SweepResult(breached, escalated, notified)

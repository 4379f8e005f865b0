"""In-app notifications (the inbox), with e-mail copies when settings.EMAIL_ENABLED."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import models, transaction
from django.utils import timezone

from zhidu.kernel.models import Notification

log = logging.getLogger(__name__)
CHUNK = 1000


def _user_ids(users) -> list[int]:
    if isinstance(users, models.QuerySet):
        return list(users.values_list("pk", flat=True))
    ids = []
    for user in users:
        ids.append(user if isinstance(user, int) else user.pk)
    return list(dict.fromkeys(ids))


def send(users, title: str, body: str = "", link: str = "", category: str = "") -> int:
    """Puts one notification into each user's inbox; returns how many were written. E-mails go out
    only after the surrounding transaction commits."""
    return send_many([(users, title, body, link, category)])


def send_many(messages) -> int:
    """Several different notifications at once, each `(users, title, body, link, category)`, written with
    bulk inserts (for sweeps that notify about many records)."""
    from zhidu.kernel.importing import insert_rows

    rows = []
    mails = []
    for users, title, body, link, category in messages:
        ids = _user_ids(users)
        title, body = str(title)[:200], str(body)
        rows.extend((uid, title, body, link, category) for uid in ids)
        if ids:
            mails.append((ids, title, body, link))
    # Rows, not model instances: a deadline sweep after an outage writes tens of thousands at once.
    for start in range(0, len(rows), CHUNK):
        insert_rows(Notification, ["user_id", "title", "body", "link", "category"], rows[start:start + CHUNK])
    if mails and getattr(settings, "EMAIL_ENABLED", False):
        transaction.on_commit(lambda: [_send_mail(*mail) for mail in mails])
    return len(rows)


def _send_mail(ids, title, body, link):
    User = get_user_model()
    addresses = User.objects.filter(pk__in=ids, is_active=True).exclude(email="").values_list("email", flat=True)
    text = body + (f"\n\n{link}" if link else "")
    messages = [(title, text, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses.iterator()]
    try:
        send_mass_mail(messages, fail_silently=False)
    except Exception:  # the inbox row is the record; a mail server outage must not fail the business action
        log.exception("sending notification e-mail failed")


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def inbox(user, *, before_id: int | None = None, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    """A keyset page of the user's notifications, newest first."""
    qs = Notification.objects.filter(user=user).order_by("-id")
    if before_id:
        qs = qs.filter(id__lt=before_id)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return list(qs[:limit])


def mark_read(user, ids=None) -> int:
    """Marks the given notifications (or all) of this user as read; another user's ids are ignored."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())

"""The audit log: an append-only, hash-chained record of writes, confidential reads and exports.

The chain is HMAC-SHA256 keyed by settings.ZHIDU_AUDIT_KEY, which lives outside the database: someone
with SQL access alone can neither rewrite a row and recompute the later hashes nor cut the tail.

`record` and `record_many` append inside the caller's transaction. Appends are serialised by locking
the single AuditHead row (SELECT … FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions already
serialise writers), so the chain stays linear with concurrent writers.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from zhidu.kernel.models import AuditEntry, AuditHead

GENESIS_HASH = "0" * 64
HEAD_LOST = "head-lost"
VERIFY_CHUNK = 2000
BULK_BATCH = 1000


class VerifyResult(tuple):
    """`(ok, first_bad_entry_id, reason)`, plus `.checked` (entries read) and `.bad_seq`."""

    def __new__(cls, ok: bool, first_bad_entry_id, reason: str, checked: int = 0, bad_seq=None):
        obj = super().__new__(cls, (ok, first_bad_entry_id, reason))
        obj.checked = checked
        obj.bad_seq = bad_seq
        return obj

    @property
    def ok(self) -> bool:
        return self[0]

    @property
    def first_bad_entry_id(self):
        return self[1]

    @property
    def reason(self) -> str:
        return self[2]


def target_ref(target) -> tuple[str, str]:
    """("app.model", "pk") for a model instance, or the given ("type", id) pair."""
    if target is None:
        return "", ""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    target_type, target_id = target
    return str(target_type), str(target_id)


def client_ip(request) -> str:
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""


def _normalise(details) -> dict:
    # Exactly what the JSON column will give back, so the hash computed now matches the one re-computed later.
    return json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder, ensure_ascii=False))


def _format_at(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_of(entry: AuditEntry) -> str:
    """The canonical JSON of everything an entry says (all fields but the two hashes)."""
    return json.dumps(
        {
            "seq": entry.seq,
            "at": _format_at(entry.at),
            "actor_id": entry.actor_id,
            "actor_username": entry.actor_username,
            "action": entry.action,
            "target_type": entry.target_type,
            "target_id": entry.target_id,
            "ip": entry.ip,
            "details": entry.details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    message = (prev_hash + content_of(entry)).encode("utf-8")
    return hmac.new(settings.ZHIDU_AUDIT_KEY.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _lock_head() -> AuditHead:
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    # First append ever, or the head row went missing. A missing head with entries present means the tail
    # may have been cut: the next entry then links to HEAD_LOST, so verify() keeps failing at that point
    # instead of the re-created head quietly vouching for the shortened chain.
    last = AuditEntry.objects.order_by("-seq").values("seq").first()
    try:
        with transaction.atomic():
            AuditHead.objects.create(pk=1, seq=last["seq"] if last else 0, hash=HEAD_LOST if last else GENESIS_HASH)
    except IntegrityError:
        pass  # another writer created it first; lock theirs
    return AuditHead.objects.select_for_update().get(pk=1)


def _actor_fields(actor, request):
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, ""
    return actor.pk, actor.get_username()


def _build(head: AuditHead, at, actor_id, username, action, target, details, ip) -> AuditEntry:
    target_type, target_id = target_ref(target)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=at,
        actor_id=actor_id,
        actor_username=username,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        details=_normalise(details),
        prev_hash=head.hash,
    )
    entry.hash = compute_hash(entry.prev_hash, entry)
    head.seq, head.hash = entry.seq, entry.hash
    return entry


def record(actor, action: str, target=None, details=None, request=None) -> AuditEntry:
    """Appends one entry. Call inside the transaction of the write it describes."""
    actor_id, username = _actor_fields(actor, request)
    with transaction.atomic():
        head = _lock_head()
        entry = _build(head, timezone.now(), actor_id, username, action, target, details, client_ip(request))
        entry.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(seq=head.seq, hash=head.hash)
    return entry


def record_many(actor, action: str, rows, request=None) -> int:
    """Appends one entry per row in one chained bulk insert. A row is `{"target": …, "details": {…}}`
    or a `(target, details)` pair. Returns the number of entries written."""
    actor_id, username = _actor_fields(actor, request)
    ip = client_ip(request)
    written = 0
    with transaction.atomic():
        head = _lock_head()
        at = timezone.now()
        batch = []
        for row in rows:
            if isinstance(row, dict):
                target, details = row.get("target"), row.get("details")
            else:
                target, details = row
            batch.append(_build(head, at, actor_id, username, action, target, details, ip))
            if len(batch) >= BULK_BATCH:
                AuditEntry.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        if batch:
            AuditEntry.objects.bulk_create(batch)
            written += len(batch)
        if written:
            AuditHead.objects.filter(pk=1).update(seq=head.seq, hash=head.hash)
    return written


def verify() -> VerifyResult:
    """Walks the whole chain in order and returns the first entry that was altered, unlinked, or that
    follows a gap in the sequence (a removed row). A removed last row shows against AuditHead, and a
    missing AuditHead while entries exist is itself a failure."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=VERIFY_CHUNK):
        checked += 1
        if entry.seq != expected_seq:
            return VerifyResult(False, entry.pk, f"序号不连续：应为 {expected_seq}，实为 {entry.seq}（有条目被删除）", checked, entry.seq)
        if entry.prev_hash != prev_hash:
            return VerifyResult(False, entry.pk, f"第 {entry.seq} 条的前一哈希与上一条不符（链已断开）", checked, entry.seq)
        if compute_hash(entry.prev_hash, entry) != entry.hash:
            return VerifyResult(False, entry.pk, f"第 {entry.seq} 条的内容被修改（哈希不符）", checked, entry.seq)
        prev_hash = entry.hash
        expected_seq += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is None and checked:
        return VerifyResult(False, None, "日志头记录缺失（末尾条目可能已被删除）", checked, expected_seq)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        return VerifyResult(
            False, None, f"日志末尾缺少条目：记录到第 {head.seq} 条，实际只到第 {expected_seq - 1} 条", checked, expected_seq
        )
    return VerifyResult(True, None, "", checked)


def entries(*, before_seq: int | None = None, action: str = "", target_type: str = "", target_id: str = "",
            actor: str = "", limit: int = 50):
    """A keyset page of entries, newest first (for auditors)."""
    qs = AuditEntry.objects.order_by("-seq")
    if before_seq:
        qs = qs.filter(seq__lt=before_seq)
    if action:
        qs = qs.filter(action__startswith=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if actor:
        qs = qs.filter(actor_username=actor)
    return list(qs[:limit])


def auditors():
    """Active users whose role grants audit.view (roles are few, so they are read in Python)."""
    from django.contrib.auth import get_user_model

    from zhidu.org.models import Role

    role_ids = [role.pk for role in Role.objects.only("pk", "permissions") if "audit.view" in (role.permissions or [])]
    return get_user_model().objects.filter(role_id__in=role_ids, is_active=True)


def verify_daily(now=None):
    """The daily job: verifies the chain; on failure tells every auditor. Returns (ok, detail) for the JobRun."""
    from django.utils.translation import gettext as _

    from zhidu.kernel import notify

    result = verify()
    if result.ok:
        return True, f"OK {result.checked}"
    bad = f"id={result.first_bad_entry_id} seq={result.bad_seq}"
    notify.send(
        auditors(),
        _("审计日志校验失败"),
        _("审计日志哈希链校验失败：%(reason)s（%(bad)s）。请立即调查。") % {"reason": result.reason, "bad": bad},
        link="/kernel/audit/",
        category="audit",
    )
    return False, f"FAILED {bad}: {result.reason}"

"""The customers importer: spreadsheet rows -> customer files, contacts and timeline entries.

Per chunk of rows (one transaction, see kernel/importing.py): every row is validated in Python
(`validation.validate_customer_data`, no queries); one query finds the credit codes / 身份证号 that
already exist; owners and departments are resolved from a per-job cache; new customers, their
contacts and their "imported" timeline entries are bulk-inserted, with codes from one reserved block
of sequence numbers per prefix; one audit entry describes the chunk.

Options (ImportJob.options): `update_existing` (a row whose credit code / 身份证号 exists updates that
customer's non-blank archive fields instead of being refused as a duplicate), `department` (code of the
department for rows that name none), `customer_type` (type for rows that name none).
"""

from __future__ import annotations

import re
import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit, policy
from zhidu.kernel.access import DataScope, user_clearance, user_scope
from zhidu.kernel.importing import ChunkOutcome, Importer, ImportFileError, Row, RowError, insert_rows, register
from zhidu.org import permissions as perms
from zhidu.org.models import Department

from . import validation
from .models import Contact, Customer, TimelineEvent

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "客户名称", "企业名称", "单位名称", "customer_name"),
    "customer_type": ("客户类型", "类型", "type", "customertype"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "uscc", "creditcode"),
    "id_number": ("身份证号", "身份证号码", "身份证", "idnumber", "idcard"),
    "legal_representative": ("法定代表人", "法人代表", "法人", "legalrepresentative"),
    "address": ("地址", "详细地址", "通讯地址"),
    "region": ("地区", "区域", "所在地区"),
    "industry": ("行业", "所属行业"),
    "scale": ("规模", "企业规模"),
    "status": ("状态", "客户状态"),
    "secret_level": ("密级", "secretlevel"),
    "owner": ("负责人", "客户负责人", "负责人用户名", "username"),
    "department": ("部门", "部门编码", "所属部门", "departmentcode"),
    "contact_name": ("联系人", "联系人姓名", "contact", "contactname"),
    "contact_title": ("职务", "联系人职务", "title"),
    "phone": ("电话", "联系电话", "手机", "手机号", "mobile"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail"),
}
COLUMN_LABELS = {field: names[0] for field, names in ALIASES.items()} | {"contacts": "联系人/电话", "extra": "其他字段"}
ARCHIVE_FIELDS = ("customer_type", *validation.TEXT_FIELDS, "status", "secret_level")
# Fields an import may change on an existing customer (update_existing). Owner, department, status and
# secret level have their own audited actions (transfer, status change, classification).
UPDATABLE_FIELDS = ("name", "legal_representative", "address", "region", "industry", "scale")
PERMISSION = perms.CUSTOMERS_IMPORT
CUSTOMER_COLUMNS = [
    "customer_type", "code", "name", "name_pinyin", "name_initials", "name_key", "credit_code", "id_number",
    "legal_representative", "address", "region", "industry", "scale", "owner_id", "department_id", "status",
    "secret_level", "extra", "next_review_on", "created_by_id",
]  # fmt: skip


class CustomerImporter(Importer):
    kind = "customers"
    aliases = ALIASES
    required_columns = ("name",)
    tables = (Customer, Contact, TimelineEvent)

    def __init__(self, job):
        super().__init__(job)
        self.actor = job.uploaded_by
        if self.actor is not None and not self.actor.has_perm_code(PERMISSION):
            raise ImportFileError(_("您没有导入客户的权限"))
        self.update_existing = bool(self.options.get("update_existing"))
        if self.update_existing and self.actor is not None and not self.actor.has_perm_code(perms.CUSTOMERS_EDIT):
            raise ImportFileError(_("更新已有客户需要编辑客户的权限"))
        self.types = validation.customer_types()
        self.default_type = self.options.get("customer_type") or ""
        self.default_department = None
        if self.options.get("department"):
            self.default_department = Department.objects.filter(code=self.options["department"]).first()
            if self.default_department is None:
                raise ImportFileError(_("部门不存在：%(code)s") % {"code": self.options["department"]})
        self.users: dict[str, object] = {}
        self.departments: dict[str, Department | None] = {}
        self.departments_by_id: dict[int, Department] = {}
        self.now = timezone.now()
        from .services import _add_months

        self.next_review_on = _add_months(timezone.localdate(), policy.value("customers.review_cycle_months"))
        self.default_secret_level = policy.value("customers.default_secret_level")
        self.name_search = NameSearch()

    # --- lookups, cached for the whole job (a few hundred staff, a few dozen departments)

    def _load_users(self, usernames: set[str]) -> None:
        missing = usernames - self.users.keys()
        if len(self.users) > 10_000:  # a file full of unknown names must not grow the cache without end
            self.users.clear()
            missing = usernames
        if missing:
            found = {u.username: u for u in get_user_model().objects.filter(username__in=missing).select_related("department")}
            for name in missing:
                self.users[name] = found.get(name)

    def _load_departments(self, codes: set[str]) -> None:
        missing = codes - self.departments.keys()
        if missing:
            found = {d.code: d for d in Department.objects.filter(code__in=missing)}
            for code in missing:
                self.departments[code] = found.get(code)
                if found.get(code):
                    self.departments_by_id[found[code].pk] = found[code]

    def _department(self, pk):
        if pk not in self.departments_by_id:
            self.departments_by_id[pk] = Department.objects.get(pk=pk)
        return self.departments_by_id[pk]

    def _in_scope(self, owner, department) -> bool:
        """Whether the importing user could see a customer with this owner and department: the same
        rule as kernel.access.scope_q, evaluated in Python on the already loaded objects."""
        user = self.actor
        if user is None:
            return True  # the command line without --user: the operator of the server
        scope = user_scope(user)
        if scope == DataScope.ALL or owner.pk == user.pk:
            return True
        if user.department_id is None or scope == DataScope.OWN:
            return False
        if scope == DataScope.DEPARTMENT:
            return department.pk == user.department_id
        return department.path.startswith(self._department(user.department_id).path)

    # --- one chunk

    def process_chunk(self, rows: list[Row]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        self._load_users({r.values["owner"] for r in rows if r.values.get("owner")})
        self._load_departments({r.values["department"] for r in rows if r.values.get("department")})

        candidates = []  # (row, cleaned, contact)
        by_key: dict[tuple[str, str], int] = {}  # ("credit_code", value) -> first row number in this chunk
        for row in rows:
            errors, cleaned, contact = self._check_row(row)
            if not errors:
                for field in ("credit_code", "id_number"):
                    value = cleaned[field]
                    if value:
                        first = by_key.setdefault((field, value), row.number)
                        if first != row.number:
                            errors.append(RowError(row.number, field, _("与文件第 %(row)d 行重复：%(value)s") % {"row": first, "value": value}))
            if errors:
                outcome.errors.extend(errors)
            else:
                candidates.append((row, cleaned, contact))

        existing = self._existing(candidates)
        new, updates = [], []
        for row, cleaned, contact in candidates:
            match = existing.get(("credit_code", cleaned["credit_code"])) or existing.get(("id_number", cleaned["id_number"]))
            if match is None:
                new.append((row, cleaned, contact))
            elif self.update_existing and self._in_scope(match["owner"], match["department"]) and self._cleared_for(match["secret_level"]):
                updates.append((row, cleaned, match))
            else:
                field = "credit_code" if cleaned["credit_code"] else "id_number"
                label = _("统一社会信用代码") if field == "credit_code" else _("身份证号")
                if self.update_existing:
                    message = _("已存在相同%(label)s的客户，但不在您的数据范围内，不能更新") % {"label": label}
                elif not (self._in_scope(match["owner"], match["department"]) and self._cleared_for(match["secret_level"])):
                    # The other file's code only to someone who may read it.
                    message = _("已有您无权查看的客户档案使用了相同的%(label)s") % {"label": label}
                else:
                    message = _("已存在相同%(label)s的客户（编码 %(code)s）") % {"label": label, "code": match["code"] or match["id"]}
                outcome.errors.append(RowError(row.number, field, message))

        created = self._create(new)
        updated = self._update(updates)
        # A matched row whose values are already there counts as updated (it succeeded) but changes nothing.
        outcome.created, outcome.updated = len(created), len(updates)
        if created or updated:
            audit.record(
                self.actor,
                "customers.import",
                target=("kernel.importjob", self.job.pk),
                details={
                    "file": self.job.original_name,
                    "rows": [rows[0].number, rows[-1].number],
                    "created": created,
                    "updated": updated,
                    "failed_rows": len({e.number for e in outcome.errors}),
                },
            )
        return outcome

    def _check_row(self, row: Row):
        values = row.values
        errors: list[RowError] = []

        def err(field, message):
            errors.append(RowError(row.number, field, str(message)))

        data = {f: values.get(f, "") for f in ARCHIVE_FIELDS}
        if not data["customer_type"]:
            data["customer_type"] = self.default_type
        if not data["secret_level"]:
            data["secret_level"] = self.default_secret_level  # the pack's level for new files, as in the form
        contact = None
        contact_name = values.get("contact_name", "")
        phone, email = values.get("phone", ""), values.get("email", "")
        if contact_name or phone or email:
            contact = {"name": contact_name or data["name"][:60], "title": values.get("contact_title", "")[:60], "phone": "", "email": ""}
            if len(contact_name) > 60:
                err("contact_name", _("联系人姓名不能超过 60 个字符"))
            if phone:
                normal = validation.normalize_phone(phone)
                if normal is None:
                    err("phone", _("电话号码无效：%(value)s") % {"value": phone[:40]})
                contact["phone"] = normal or ""
            if email:
                try:
                    validate_email(email)
                    contact["email"] = email
                except ValidationError:
                    err("email", _("邮箱地址无效：%(value)s") % {"value": email[:60]})
            data["contacts"] = [contact]

        cleaned, field_errors = validation.validate_customer_data(data, customer_type_cfg=self.types)
        for field, messages in field_errors.items():
            label = COLUMN_LABELS.get(field, field)
            for message in messages:
                # The error file shows reasons without field names: say which column a reason is about.
                err(field, message if label in message else f"{label}：{message}")

        owner, department = self._owner_and_department(values, err)
        if owner is not None and department is not None:
            if not self._in_scope(owner, department):
                err("owner", _("超出您的数据范围：负责人 %(owner)s，部门 %(department)s") % {"owner": owner.username, "department": department.code})
            level = cleaned.get("secret_level")
            if level is not None and not self._cleared_for(level):
                err("secret_level", _("密级高于您的密级许可，不能导入"))
        cleaned["owner"], cleaned["department"] = owner, department
        return errors, cleaned, contact

    def _cleared_for(self, level: int) -> bool:
        return self.actor is None or level <= user_clearance(self.actor)

    def _owner_and_department(self, values, err):
        owner = None
        username = values.get("owner", "")
        if username:
            owner = self.users.get(username)
            if owner is None:
                err("owner", _("负责人不存在：%(username)s") % {"username": username[:60]})
                return None, None
            if not owner.is_active or owner.left_at:
                err("owner", _("负责人已停用或离职：%(username)s") % {"username": username[:60]})
                return None, None
        elif self.actor is not None:
            owner = self.actor
        else:
            err("owner", _("负责人不能为空"))
            return None, None

        code = values.get("department", "")
        if code:
            department = self.departments.get(code)
            if department is None:
                err("department", _("部门不存在：%(code)s") % {"code": code[:30]})
                return owner, None
        elif self.default_department is not None:
            department = self.default_department
        elif owner.department_id:
            department = self._department(owner.department_id)
        else:
            err("department", _("部门不能为空：负责人 %(username)s 没有所属部门") % {"username": owner.username})
            return owner, None
        return owner, department

    def _existing(self, candidates) -> dict:
        codes = [c["credit_code"] for _row, c, _contact in candidates if c["credit_code"]]
        ids = [c["id_number"] for _row, c, _contact in candidates if c["id_number"]]
        if not codes and not ids:
            return {}
        found = {}
        fields = ("id", "code", "credit_code", "id_number", "owner_id", "department_id", "secret_level")
        # The uniqueness indexes are partial (blank identifiers are left out): a query repeats their
        # condition so that both databases use them, instead of reading the whole table per chunk.
        matches = Q(credit_code__in=codes) & ~Q(credit_code="") if codes else Q(pk__in=[])
        if ids:
            matches |= Q(id_number__in=ids) & ~Q(id_number="")
        for item in Customer.objects.filter(matches).values(*fields):
            item["owner"] = _Ref(item["owner_id"])
            item["department"] = self._department(item["department_id"])
            if item["credit_code"]:
                found[("credit_code", item["credit_code"])] = item
            if item["id_number"]:
                found[("id_number", item["id_number"])] = item
        return found

    def _create(self, new) -> list[int]:
        if not new:
            return []
        codes = self._codes([cleaned["customer_type"] for _row, cleaned, _contact in new])
        actor_id = self.actor.pk if self.actor else None
        review_on = self.next_review_on
        rows = []
        for (_row, c, _contact), code in zip(new, codes, strict=True):
            pinyin, initials = self.name_search(c["name"])
            rows.append(
                (
                    c["customer_type"], code, c["name"], pinyin, initials, validation.name_key(c["name"]), c["credit_code"],
                    c["id_number"], c["legal_representative"], c["address"], c["region"], c["industry"], c["scale"],
                    c["owner"].pk, c["department"].pk, c["status"], c["secret_level"], c["extra"], review_on, actor_id,
                )
            )  # fmt: skip
        insert_rows(Customer, CUSTOMER_COLUMNS, rows)
        ids = dict(Customer.objects.filter(code__in=codes).values_list("code", "pk"))
        customer_ids = [ids[code] for code in codes]
        insert_rows(
            Contact,
            ["customer_id", "name", "title", "phone", "phone_reversed", "email", "is_primary"],
            [
                (pk, contact["name"], contact["title"], contact["phone"], validation.phone_reversed(contact["phone"]), contact["email"], True)
                for pk, (_row, _cleaned, contact) in zip(customer_ids, new, strict=True)
                if contact
            ],
        )
        summary = _("从文件 %(file)s 导入") % {"file": self.job.original_name[:200]}
        insert_rows(
            TimelineEvent,
            ["customer_id", "actor_id", "kind", "summary", "changes"],
            [
                (pk, actor_id, TimelineEvent.Kind.IMPORTED, summary, {"job": self.job.pk, "row": row.number})
                for pk, (row, _cleaned, _contact) in zip(customer_ids, new, strict=True)
            ],
        )
        return customer_ids

    def _codes(self, type_keys: list[str]) -> list[str]:
        """One block of codes per customer type in the chunk, handed out in row order."""
        from .services import reserve_customer_codes

        counts: dict[str, int] = {}
        for key in type_keys:
            counts[key] = counts.get(key, 0) + 1
        blocks = {key: iter(reserve_customer_codes(self.types[key], n)) for key, n in counts.items()}
        return [next(blocks[key]) for key in type_keys]

    def _update(self, updates) -> list[int]:
        if not updates:
            return []
        # Locked, then read: a web edit committed meanwhile is either seen here or waits for this chunk.
        objects = Customer.objects.select_for_update().in_bulk([match["id"] for _row, _cleaned, match in updates])
        changed, events = {}, []
        actor_id = self.actor.pk if self.actor else None
        for row, cleaned, match in updates:
            customer = objects[match["id"]]
            diff = {}
            for field in UPDATABLE_FIELDS:
                value = cleaned[field]
                if value and value != getattr(customer, field):
                    diff[field] = [getattr(customer, field), value]
                    setattr(customer, field, value)
            if not diff:
                continue
            if "name" in diff:
                customer.name_pinyin, customer.name_initials = self.name_search(customer.name)
                customer.name_key = validation.name_key(customer.name)
            customer.version = F("version") + 1
            customer.updated_at = self.now
            fields = (*diff, "name_pinyin", "name_initials", "name_key") if "name" in diff else tuple(diff)
            changed.setdefault(fields, []).append(customer)
            diff["job"], diff["row"] = self.job.pk, row.number
            events.append(TimelineEvent(customer_id=customer.pk, actor_id=actor_id, kind=TimelineEvent.Kind.UPDATED, summary=_("导入更新"), changes=diff))
        # Only the fields a row changes are written, one bulk UPDATE per set of changed fields.
        for fields, customers in changed.items():
            Customer.objects.bulk_update(customers, [*fields, "version", "updated_at"], batch_size=500)
        TimelineEvent.objects.bulk_create(events, batch_size=1000)
        return [c.pk for customers in changed.values() for c in customers]


class NameSearch:
    """validation.name_pinyin and name_initials for many names at a time, with the same results (see the
    tests). pypinyin splits a name into runs of Chinese characters and runs of other characters; it keeps
    the other characters as they are, and segments each Chinese run into words (forward maximum matching
    over its phrase dictionary) that it converts one by one. Here the runs are found with one regular
    expression built from pypinyin's own character class instead of its per-character loop, and each
    word's pinyin is remembered: company names repeat their words (北京, 科技, 有限公司 …), and converting
    a word is the slow part. The memory stays bounded: only dictionary words and single characters are
    remembered, never the numbers or Latin text of the names."""

    LIMIT = 100_000

    def __init__(self):
        from pypinyin.constants import PHRASES_DICT, RE_HANS
        from pypinyin.seg import mmseg

        self._words: dict[str, tuple[str, str]] = {}
        pattern = RE_HANS.pattern
        assert pattern.startswith("^(?:[") and pattern.endswith("])+$"), pattern
        hans = pattern[len("^(?:[") : -len("])+$")]
        self._runs = re.compile(f"([{hans}]+)|[^{hans}]+")
        # pypinyin's own segmentation of a run of Chinese characters (pypinyin.seg.simpleseg.seg).
        self._cut = mmseg.seg.cut if PHRASES_DICT else (lambda run: (run,))

    def __call__(self, name) -> tuple[str, str]:
        text = unicodedata.normalize("NFKC", validation._text(name))
        normal, first = [], []
        words = self._words
        for match in self._runs.finditer(text):
            if match.group(1) is None:  # not Chinese: pypinyin keeps it as it is
                normal.append(match.group())
                first.append(match.group())
                continue
            for word in self._cut(match.group()):
                found = words.get(word)
                if found is None:
                    found = self._convert(word)
                normal.append(found[0])
                first.append(found[1])
        keep = validation._NON_ALNUM  # the same clean-up as name_pinyin / name_initials
        return keep.sub("", "".join(normal).lower())[:800], keep.sub("", "".join(first).lower())[:200]

    def _convert(self, word: str) -> tuple[str, str]:
        from pypinyin import Style, lazy_pinyin

        if len(self._words) >= self.LIMIT:
            self._words.clear()
        found = self._words[word] = (
            "".join(lazy_pinyin(word, style=Style.NORMAL, errors="default")),
            "".join(lazy_pinyin(word, style=Style.FIRST_LETTER, errors="default")),
        )
        return found


class _Ref:
    """Enough of a user for the scope check of an existing customer: its primary key."""

    __slots__ = ("pk",)

    def __init__(self, pk):
        self.pk = pk


register(CustomerImporter)

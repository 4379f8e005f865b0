"""Demo data: a few admission applications at each stage and blacklist entries, made through the services
under the pack in force (nothing is loaded when the pack sets no admission checklist)."""

import datetime as dt
import random

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from zhidu.kernel import policy

from . import services


def _evidence(user, application, items=None):
    for item in application.items.all():
        if items is not None and item.key not in items:
            continue
        services.item_check(user, application.pk, item.key, True, "已核实原件")
        if item.evidence_required:
            services.evidence_add(user, application.pk, item.key, item.evidence_hint or item.label[:40],
                                  ContentFile(f"{application.name} {item.label}".encode(), name=f"{item.key}.txt"))


def _investigate(user, application, stages=None):
    for stage in application.stages:
        if stages is not None and stage["key"] not in stages:
            continue
        services.investigation_record(user, application.pk, stage["key"], {
            "conducted_on": timezone.localdate() - dt.timedelta(days=3), "investigators": f"{user}、技术部",
            "findings": "资料齐全，经营正常，符合准入条件", "conclusion": "pass",
        })


def _report(user, application):
    application.refresh_from_db()
    if application.report_fields:
        answers = {f["key"]: "详见调查资料" for f in application.report_fields}
        services.application_update(user, application.pk, {"answers": answers}, application.version)


def _approver(users, application):
    role = application.chain[0]["role"] if application.chain else ""
    return next((u for u in users.values() if u.role and u.role.code == role and u.pk != application.owner_id), None)


def load(users: dict, customers: list) -> None:
    from zhidu.customers import validation
    from zhidu.demo import fake

    checklists = policy.value("admission.checklists")
    rng = random.Random(20261124)
    with transaction.atomic():
        if checklists:
            customer_type = checklists[0]["customer_types"][0]
            types = validation.customer_types()
            if customer_type in types:
                applicants = []
                for index in range(4):
                    data = fake.company(rng, 900 + index)
                    data = {k: data[k] for k in ("name", "credit_code", "legal_representative", "address", "region", "industry")}
                    applicants.append({**data, "customer_type": customer_type, "contact_name": fake.person_name(rng), "contact_phone": fake.mobile(rng)})
                sales, sales2 = users["sales"], users["sales2"]
                # 1. a draft: two conditions checked so far
                draft = services.application_create(sales, applicants[0])
                _evidence(sales, draft, items=[i["key"] for i in checklists[0]["items"][:2]])
                # 2. complete and waiting for the approver the pack names
                waiting = services.application_create(sales2, applicants[1])
                _evidence(sales2, waiting)
                _investigate(sales2, waiting)
                _report(sales2, waiting)
                services.application_submit(sales2, waiting.pk)
                # 3. admitted: the customer file and its code are created at approval
                admitted = services.application_create(sales, applicants[2])
                _evidence(sales, admitted)
                _investigate(sales, admitted)
                _report(sales, admitted)
                admitted = services.application_submit(sales, admitted.pk)
                approver = _approver(users, admitted)
                if approver is not None:
                    services.application_decide(approver, admitted.pk, True)
                # 4. rejected with reasons (may be re-applied)
                rejected = services.application_create(sales, applicants[3])
                _evidence(sales, rejected)
                _investigate(sales, rejected)
                _report(sales, rejected)
                rejected = services.application_submit(sales, rejected.pk)
                if approver is not None:
                    services.application_decide(approver, rejected.pk, False, ["税务登记证已过期", "未提供产品经营资质证明"])

        # Blacklist: one department listing and one company listing.
        manager, marketing = users.get("manager"), users.get("marketing")
        in_scope = [c for c in customers if manager and c.department.path.startswith(manager.department.path)]
        if manager and in_scope:
            target = in_scope[0]
            services.blacklist_add(manager, target.pk, "department", "多次逾期未提货，合同履约差", department=target.department_id)
        if marketing and len(customers) > 1:
            services.blacklist_add(marketing, customers[-1].pk, "company", "因客户原因导致公司重大损失，经营销事业部核实")

"""An organisation to test admission and the blacklist against:

    总公司 (root)
    ├── 销售一部 (dept_a)
    └── 销售二部 (dept_b)

sales_a / sales_b (业务员), manager_a / manager_b (部门经理), marketing (营销事业部经理), gm (总经理)."""

from types import SimpleNamespace

import pytest

from zhidu.kernel.access import SecretLevel

CREDIT_CODES = ["91110000802100433B", "91310000631696382C", "91440300708461136T", "91330000142916567N", "91110000100001342C"]


def _department(name, code, parent=None):
    from zhidu.org.models import Department

    department = Department.objects.create(name=name, code=code, parent=parent)
    department.path = f"{parent.path if parent else '/'}{department.pk}/"
    department.save(update_fields=["path"])
    return department


@pytest.fixture
def org(db):
    from zhidu.org.models import Role, User
    from zhidu.org.services import roles_ensure_builtin

    roles_ensure_builtin()
    roles = {role.code: role for role in Role.objects.all()}
    root = _department("总公司", "root")
    dept_a = _department("销售一部", "sales-a", root)
    dept_b = _department("销售二部", "sales-b", root)

    def user(username, role, department, clearance=SecretLevel.SECRET):
        return User.objects.create(username=username, display_name=username, role=roles[role], department=department, clearance=clearance)

    return SimpleNamespace(
        roles=roles, root=root, dept_a=dept_a, dept_b=dept_b,
        sales_a=user("sales_a", "sales", dept_a),
        sales_b=user("sales_b", "sales", dept_b),
        manager_a=user("manager_a", "dept_manager", dept_a),
        manager_b=user("manager_b", "dept_manager", dept_b),
        marketing=user("marketing", "marketing_manager", root),
        gm=user("gm", "general_manager", root, SecretLevel.TOP_SECRET),
        auditor=user("auditor", "auditor", root, SecretLevel.PUBLIC),
    )


@pytest.fixture
def s01(pack):
    return pack("s01-prosthetics")


@pytest.fixture
def s04(pack):
    return pack("s04-supplier-selection")


def upload(name="licence.pdf", content=b"%PDF-1.4 test"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")


def complete(application, user, *, evidence=True, stages=True, answers=True):
    """Ticks every condition (with evidence), records every stage as passing and fills the report."""
    import datetime as dt

    from zhidu.admission import services

    for item in application.items.all():
        services.item_check(user, application.pk, item.key, True, "已核实")
        if evidence and item.evidence_required:
            services.evidence_add(user, application.pk, item.key, f"{item.key} 证明", upload())
    if stages:
        for stage in application.stages:
            services.investigation_record(
                user, application.pk, stage["key"],
                {"conducted_on": dt.date.today().isoformat(), "investigators": "张三、李四", "findings": "符合要求", "conclusion": "pass"},
            )
    if answers and application.report_fields:
        application.refresh_from_db()
        services.application_update(user, application.pk, {"answers": {f["key"]: "详见附件" for f in application.report_fields}}, application.version)
    application.refresh_from_db()
    return application

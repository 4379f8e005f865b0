"""Demo data for the embedded default: a department tree, one user per built-in role and about
200 customers with contacts, loaded once. The generated passwords are kept in var/demo-logins.json
(readable by the owner only) so every `zhidu run` can print them."""

import importlib
import importlib.util
import json
import os
import random
import secrets

from django.conf import settings
from django.db import transaction

from zhidu.demo import fake

DEPARTMENTS = [
    # (code, name, parent code)
    ("HQ", "德奥总公司", None),
    ("MKT", "市场部", "HQ"),
    ("MKT-N", "华北销售部", "MKT"),
    ("MKT-E", "华东销售部", "MKT"),
    ("MKT-S", "华南销售部", "MKT"),
    ("CS", "客户服务部", "HQ"),
    ("ARC", "档案室", "CS"),
    ("IT", "信息中心", "HQ"),
]
USERS = [
    # (username, display name, role code, department code, clearance)
    ("gm", "王总", "general_manager", "HQ", 3),
    ("manager", "李经理", "dept_manager", "MKT", 2),
    ("supervisor", "张主管", "supervisor", "MKT-E", 1),
    ("sales", "刘业务", "sales", "MKT-E", 0),
    ("sales2", "陈业务", "sales", "MKT-N", 0),
    ("archivist", "赵档案", "archivist", "ARC", 2),
    ("sysadmin", "周系统", "sysadmin", "IT", 0),
    ("secadmin", "吴安全", "secadmin", "IT", 0),
    ("auditor", "郑审计", "auditor", "IT", 0),
    ("quality", "孙质量", "quality_manager", "HQ", 1),
    ("agent", "何客服", "service_agent", "CS", 0),
    ("credit", "钱信用", "credit_controller", "HQ", 1),
    ("marketing", "冯营销", "marketing_manager", "MKT", 1),
]
# Each module with demo data of its own has `zhidu.<module>.demo.load(users, customers)`; run in this order.
MODULE_DEMOS = ["zhidu.grading.demo", "zhidu.admission.demo", "zhidu.credit.demo", "zhidu.complaints.demo"]
CUSTOMER_COUNT = 200
LOGINS_FILE = "demo-logins.json"


def _logins_path():
    return settings.VAR_DIR / LOGINS_FILE


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, role name, password) for each demo user, as created on the first run."""
    from zhidu.org.models import User

    path = _logins_path()
    if not path.exists():
        return []
    passwords = json.loads(path.read_text())
    users = {u.username: u for u in User.objects.select_related("role").filter(username__in=passwords)}
    return [(name, users[name].role.name if name in users and users[name].role else "", pw) for name, pw in passwords.items() if name in users]


def ensure_demo(stdout=None) -> bool:
    """Applies the default pack if none is applied and loads the demo data if there are no users yet.
    Returns True when it loaded the data now."""
    from zhidu.kernel import policy
    from zhidu.org.models import User

    if policy.current_version() is None:
        policy.apply(settings.DEFAULT_PACK)
        if stdout:
            stdout.write(f"已应用制度包 Applied pack: {settings.DEFAULT_PACK}")
    if User.objects.exists():
        return False
    _load(stdout)
    return True


@transaction.atomic
def _load(stdout=None):
    from zhidu.customers import services as customer_services
    from zhidu.customers import validation as customer_validation
    from zhidu.customers.models import CustomerStatus
    from zhidu.org import services as org_services
    from zhidu.org.models import Role

    org_services.roles_ensure_builtin()
    departments = {}
    for code, name, parent in DEPARTMENTS:
        departments[code] = org_services.department_create(None, name=name, code=code, parent=departments.get(parent))

    passwords = {}
    users = {}
    for username, display, role_code, dept_code, clearance in USERS:
        password = f"Zd-{secrets.token_urlsafe(6)}-{secrets.randbelow(900) + 100}"
        users[username] = org_services.user_create(
            None,
            username=username,
            password=password,
            display_name=display,
            department=departments[dept_code],
            role=Role.objects.get(code=role_code),
            clearance=clearance,
        )
        passwords[username] = password

    rng = random.Random(20261123)
    # The applied pack names the customer types; demo companies take those identified by 统一社会信用代码.
    company_types = [key for key, cfg in customer_validation.customer_types().items() if cfg["identifier"] == "credit_code"]
    owners = [users["sales"], users["sales2"], users["supervisor"], users["manager"]]
    statuses = [CustomerStatus.ACTIVE] * 6 + [CustomerStatus.ADMITTED] * 2 + [CustomerStatus.PROSPECT, CustomerStatus.SUSPENDED]
    customers = []
    for index in range(CUSTOMER_COUNT):
        owner = owners[index % len(owners)]
        data = fake.company(rng, index)
        data.update(
            customer_type=rng.choice(company_types),
            owner=owner,
            department=owner.department,
            status=rng.choice(statuses),
            secret_level=rng.choices([0, 1, 2], weights=[85, 10, 5])[0],
        )
        contacts = [fake.contact(rng, primary=(i == 0)) for i in range(rng.randint(1, 3))]
        customers.append(customer_services.customer_create(users["gm"], data, contacts=contacts, confirm_duplicates=True))
    for module_name in MODULE_DEMOS:
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).load(users, customers)

    path = _logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords, ensure_ascii=False, indent=1))
    os.chmod(path, 0o600)
    if stdout:
        stdout.write(f"已加载演示数据 Loaded demo data: {len(DEPARTMENTS)} departments, {len(USERS)} users, {CUSTOMER_COUNT} customers")


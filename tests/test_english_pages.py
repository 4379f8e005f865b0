"""The English UI is complete: with the language set to English, the headings, labels, buttons, table
headers and navigation links of the main pages carry no Chinese text.

Data stays as it was entered (customer, department and user names, a pack's parameter values and
citations), so the check looks only at UI elements and strips the data values it created itself."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
TAGS = {"h1", "h2", "th", "label", "button"}
CLASSES = {"nav-link", "btn"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# The language switch names each language in that language ("中文"): that is intended.
LANGUAGE_NAMES = {"中文", "简体中文"}


class _UiText(HTMLParser):
    """Collects the text of every UI element (by tag or class), skipping <script> and <style>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, is_ui_element, text parts or None)
        self.skip = 0
        self.found = []  # (description, text)

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if tag in ("script", "style"):
            self.skip += 1
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        is_ui = tag in TAGS or bool(classes & CLASSES)
        self.stack.append((tag, f"<{tag} class={attrs.get('class') or ''!r} id={attrs.get('id') or ''!r}>" if is_ui else None, []))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        # Pop to the matching open tag (tolerates unclosed elements such as <li> or <p>).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _tag, description, parts in reversed(self.stack[i:]):
                    if description:
                        self.found.append((description, " ".join("".join(parts).split())))
                del self.stack[i:]
                return

    def handle_data(self, data):
        if self.skip:
            return
        for _tag, description, parts in self.stack:
            if description:
                parts.append(data)


def chinese_ui_text(response, data=()):
    """The UI elements of a page that still show Chinese, once the given data values are removed."""
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/html")
    parser = _UiText()
    parser.feed(response.content.decode())
    parser.close()
    assert parser.found, "no UI elements found"
    values = sorted({*data, *LANGUAGE_NAMES}, key=len, reverse=True)
    bad = []
    for description, text in parser.found:
        visible = text
        for value in values:
            if value:
                visible = visible.replace(str(value), "")
        if CJK.search(visible):
            bad.append(f"{description} {text}")
    return bad


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def company(db):
    """Roles, a department tree and one user per role the pages need, plus one customer file."""
    from zhidu.customers import services
    from zhidu.kernel.access import SecretLevel
    from zhidu.org.models import Department, Role, User
    from zhidu.org.services import roles_ensure_builtin

    roles_ensure_builtin()
    roles = {role.code: role for role in Role.objects.all()}
    root = Department.objects.create(name="总公司", code="root")
    root.path = f"/{root.pk}/"
    root.save(update_fields=["path"])
    sales = Department.objects.create(name="销售一部", code="sales-a", parent=root)
    sales.path = f"{root.path}{sales.pk}/"
    sales.save(update_fields=["path"])

    def user(username, role, department, clearance=SecretLevel.PUBLIC):
        return User.objects.create(
            username=username, display_name=f"{username}用户", role=roles[role], department=department, clearance=clearance
        )

    gm = user("gm", "general_manager", root, SecretLevel.TOP_SECRET)
    customer = services.customer_create(
        gm,
        {"name": "测试客户甲", "customer_type": "household", "address": "测试路 1 号", "owner": gm.pk, "department": sales.pk},
        contacts=[{"name": "张三", "phone": "13800000000"}],
        confirm_duplicates=True,
    )
    users = {
        "gm": gm,
        "sysadmin": user("sysadmin", "sysadmin", root),
        "secadmin": user("secadmin", "secadmin", root),
        "auditor": user("auditor", "auditor", root),
    }
    data = [
        root.name, sales.name, customer.name, customer.address, customer.code, "张三",
        *(u.display_name for u in users.values()),
    ]
    return {**users, "customer": customer, "data": data}


def _check(client, user, url, data):
    client.force_login(user)
    response = client.get(url)
    assert response.headers.get("Content-Language", "en").startswith("en")
    bad = chinese_ui_text(response, data)
    assert not bad, f"{url}: Chinese text in the English UI:\n" + "\n".join(bad)


PAGES_AS_GM = [
    "/",
    reverse("customers:list"),
    reverse("customers:create"),
    reverse("customers:import"),
    reverse("kernel:calendar"),
    reverse("kernel:inbox"),
    reverse("kernel:approvals"),
    reverse("complaints:list"),
    reverse("complaints:new"),
    reverse("complaints:dashboard"),
    reverse("complaints:report"),
    reverse("complaints:my_penalties"),
    reverse("complaints_public:submit"),
    reverse("complaints_public:track"),
]


@pytest.mark.parametrize("url", PAGES_AS_GM)
def test_general_manager_pages_are_in_english(english, company, url):
    _check(english, company["gm"], url, company["data"])


def test_customer_detail_is_in_english(english, company):
    _check(english, company["gm"], reverse("customers:detail", args=[company["customer"].pk]), company["data"])


def test_complaint_case_and_register_form_are_in_english(english, company):
    from zhidu.complaints import services as complaint_services

    data = {"complainant_name": "投诉人甲", "complainant_phone": "13900001111", "subject": "服务态度", "content": "态度不好", "channel": "phone"}
    complaint = complaint_services.complaint_register(company["gm"], data)
    values = [*company["data"], *data.values(), complaint.tracking_no]
    for url in (reverse("complaints:detail", args=[complaint.pk]), reverse("complaints:register_form", args=[complaint.pk])):
        _check(english, company["gm"], url, values)


def test_pack_page_is_in_english(english, company, pack):
    version = pack("s01-prosthetics")
    # The pack's own title, parameter values and citations are Chinese data, not UI.
    values = [version.title, version.name, *_strings(version.parameters)]
    _check(english, company["gm"], reverse("kernel:packs"), company["data"] + values)


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("sysadmin", reverse("org:users")),
        ("sysadmin", reverse("org:departments")),
        ("secadmin", reverse("org:roles")),
        ("auditor", reverse("kernel:audit")),
    ],
)
def test_admin_pages_are_in_english(english, company, who, url):
    _check(english, company[who], url, company["data"])


@pytest.mark.parametrize("url", [reverse("customers:list"), reverse("kernel:packs")])
def test_same_pages_are_in_chinese_by_default(client, company, url):
    # The check itself works: without the English cookie the default language shows Chinese UI.
    client.force_login(company["gm"])
    assert chinese_ui_text(client.get(url), company["data"])


def test_approvals_with_a_pending_request_are_in_english(english, company):
    # A pending access request shows the requester, the step and the chain's citation.
    from zhidu.customers import services
    from zhidu.kernel.access import SecretLevel
    from zhidu.org.models import Department, Role, User

    root = company["gm"].department
    other = Department.objects.create(name="销售二部", code="sales-b", parent=root)
    other.path = f"{root.path}{other.pk}/"
    other.save(update_fields=["path"])
    seller = User.objects.create(username="seller", display_name="业务员乙", role=Role.objects.get(code="sales"), department=other)
    manager = User.objects.create(
        username="manager", display_name="经理乙", role=Role.objects.get(code="dept_manager"), department=other,
        clearance=SecretLevel.CONFIDENTIAL,
    )
    customer = company["customer"]
    request = services.access_request_create(seller, customer.pk, "核对资料", 2, code=customer.code)
    # The request's title is stored when it is made, in the requester's language: data on this page.
    stored = [request.approval.title]

    english.force_login(manager)
    response = english.get(reverse("kernel:approvals"))
    assert "Requested by" in response.content.decode()
    bad = chinese_ui_text(response, [*company["data"], other.name, seller.display_name, manager.display_name, "核对资料", *stored])
    assert not bad, "Chinese text in the English UI:\n" + "\n".join(bad)

"""The customer archive in a real browser: log in, create a customer (a bad 统一社会信用代码 is refused
with a message on the field), find it by pinyin initials, export the list and find the phone masked."""

import io
import re

import pytest
from openpyxl import load_workbook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = "杭州青山医疗器械有限公司"
INITIALS = "hzqsylqx"
PHONE = "13912345678"
MASKED_PHONE = "139****5678"


def test_create_with_bad_credit_code_then_find_by_initials_and_export_masked(page, login, org, shots_dir):
    login(org.sales_a)

    page.goto("/customers/new/")
    page.select_option("#id_customer_type", "enterprise")
    page.fill("#id_name", NAME)
    page.fill("#id_credit_code", "91110000802100433A")  # wrong check character
    page.fill("#id_contact_name", "周青山")
    page.fill("#id_contact_phone", PHONE)
    page.click("#save-customer")
    error = page.locator("#error-credit_code")
    error.wait_for()
    assert "统一社会信用代码无效" in error.inner_text()
    assert page.locator("#id_credit_code.is-invalid").count() == 1
    page.screenshot(path=str(shots_dir / "customer-form-error.png"), full_page=True)

    page.fill("#id_credit_code", "91110000802100433B")
    page.click("#save-customer")
    page.wait_for_url(re.compile(r"/customers/\d+/$"))
    assert page.locator("#customer-name").inner_text() == NAME
    assert MASKED_PHONE in page.locator("#contacts-table").inner_text()
    assert PHONE not in page.content()
    page.screenshot(path=str(shots_dir / "customer-detail.png"), full_page=True)

    page.goto("/customers/")
    page.fill("#q", INITIALS)
    page.click("#search-button")
    page.wait_for_url(re.compile(r"q=" + INITIALS))
    table = page.locator("#customer-table tbody")
    assert NAME in table.inner_text()
    assert MASKED_PHONE in table.inner_text()
    page.screenshot(path=str(shots_dir / "customer-list.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#export-link")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    content = open(download.path(), "rb").read()
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    found = [row for row in rows if NAME in row]
    assert len(found) == 1
    assert MASKED_PHONE in found[0]
    assert not any(PHONE in str(cell) for row in rows for cell in row if cell is not None)


def test_dashboard_draws_charts_and_switches_language(page, login, org, make_customer, shots_dir):
    from zhidu.customers import services

    statuses = ["active", "active", "admitted", "prospect", "suspended", "active", "admitted", "active"]
    for index, (user, kind) in enumerate(
        [(org.sales_a, "household"), (org.sales_a2, "household"), (org.sales_a1, "property_unit"), (org.supervisor_a, "household")] * 2
    ):
        customer = make_customer(user=user, name=f"示例客户{index + 1}号", customer_type=kind)
        if statuses[index] != "prospect":
            path = {"admitted": ["admitted"], "active": ["admitted", "active"], "suspended": ["admitted", "active", "suspended"]}
            for status in path[statuses[index]]:
                services.customer_set_status(org.manager_a, customer.pk, status, "测试")

    login(org.manager_a)
    page.goto("/")
    # ECharts draws into a canvas inside each chart container.
    for chart in ("status", "type", "department"):
        page.wait_for_selector(f"#chart-{chart} canvas")
    assert page.locator("#stat-total").inner_text() == "8"
    assert "即将推出" in page.locator(".zhidu-modules").inner_text()
    page.wait_for_timeout(800)  # let the chart animation finish before the screenshot
    page.screenshot(path=str(shots_dir / "dashboard.png"), full_page=True)

    page.click("#language-form button[value=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Dashboard" in page.locator("h1").inner_text()
    assert "Customers" in page.locator(".zhidu-modules").inner_text()
    page.wait_for_selector("#chart-status canvas")
    page.wait_for_timeout(800)
    page.screenshot(path=str(shots_dir / "dashboard-en.png"), full_page=True)

    page.click("#user-menu")
    page.click("#logout-button")
    page.wait_for_url(re.compile(r"/login/"))

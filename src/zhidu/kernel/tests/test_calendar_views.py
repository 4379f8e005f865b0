"""The holiday calendar page: who sees what, uploading a year, row errors."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from zhidu.kernel import calendar
from zhidu.kernel.models import HolidayDate, HolidayYear
from zhidu.org.models import Role

YEAR = calendar.BUILTIN_LAST_YEAR + 1

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(django_user_model):
    role = Role.objects.create(code="calendar-admin", name="日历管理员", permissions=["calendar.manage"])
    return django_user_model.objects.create_user(username="calmanager", password=None, role=role)


@pytest.fixture
def staff(django_user_model):
    role = Role.objects.create(code="sales", name="销售", permissions=["customers.view"])
    return django_user_model.objects.create_user(username="sales1", password=None, role=role)


def upload(client, text: str, year=YEAR, source="国办发明电 测试"):
    data = {"year": year, "source": source, "file": SimpleUploadedFile(f"{year}.csv", text.encode(), content_type="text/csv")}
    return client.post(reverse("kernel:calendar_import"), data)


def test_pages_need_a_login(client):
    for url in (reverse("kernel:calendar"), reverse("kernel:calendar_year", args=[2026])):
        response = client.get(url)
        assert response.status_code == 302 and "next=" in response["Location"]
    assert upload(client, f"{YEAR}-01-01,holiday,元旦\n").status_code == 302
    assert not HolidayYear.objects.exists()


def test_index_lists_covered_years_without_the_form_for_staff(client, staff):
    client.force_login(staff)
    response = client.get(reverse("kernel:calendar"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "节假日日历" in html
    assert reverse("kernel:calendar_year", args=[calendar.BUILTIN_LAST_YEAR]) in html
    assert reverse("kernel:calendar_year", args=[calendar.BUILTIN_FIRST_YEAR]) in html
    assert reverse("kernel:calendar_import") not in html


def test_staff_cannot_upload_or_delete(client, staff, manager):
    client.force_login(staff)
    assert upload(client, f"{YEAR}-01-01,holiday,元旦\n").status_code == 403
    assert not HolidayYear.objects.exists()
    calendar.holiday_year_import([{"date": f"{YEAR}-01-01", "kind": "holiday", "name": "元旦"}], YEAR, manager)
    assert client.post(reverse("kernel:calendar_delete", args=[YEAR])).status_code == 403
    assert HolidayYear.objects.filter(year=YEAR).exists()


def test_builtin_year_page_shows_holidays_and_make_up_days(client, staff):
    client.force_login(staff)
    response = client.get(reverse("kernel:calendar_year", args=[2026]))
    assert response.status_code == 200
    holidays = {row.date for row in response.context["holidays"]}
    workdays = {row.date for row in response.context["workdays"]}
    assert {dt.date(2026, 10, day) for day in range(1, 8)} <= holidays
    assert {dt.date(2026, 9, 20), dt.date(2026, 10, 10)} <= workdays
    html = response.content.decode()
    assert "国庆节" in html and "chinesecalendar" in html


def test_uncovered_year_page_says_how_to_enter_it(client, staff):
    client.force_login(staff)
    response = client.get(reverse("kernel:calendar_year", args=[YEAR]))
    assert response.status_code == 404
    html = response.content.decode()
    assert f"缺少 {YEAR} 年的节假日安排" in html and "zhidu calendar holidays import" in html


def test_manager_uploads_a_year(client, manager):
    client.force_login(manager)
    response = client.get(reverse("kernel:calendar"))
    assert reverse("kernel:calendar_import") in response.content.decode()

    response = upload(client, f"date,kind,name\n{YEAR}-01-01,holiday,元旦\n{YEAR}-10-01,holiday,国庆节\n")
    assert response.status_code == 302 and response["Location"] == reverse("kernel:calendar_year", args=[YEAR])
    entry = HolidayYear.objects.get(year=YEAR)
    assert entry.entered_by == manager and entry.source == "国办发明电 测试"
    assert not calendar.is_working_day(dt.date(YEAR, 10, 1))

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "国办发明电 测试" in html and "calmanager" in html and f"{YEAR}-10-01" in html
    index = client.get(reverse("kernel:calendar")).content.decode()
    assert reverse("kernel:calendar_year", args=[YEAR]) in index


def test_upload_with_bad_rows_shows_each_row_and_writes_nothing(client, manager):
    client.force_login(manager)
    response = upload(client, f"date,kind,name\n{YEAR}-01-01,holiday,元旦\n{YEAR}-13-01,holiday,\n{YEAR}-05-01,off,劳动节\n")
    assert response.status_code == 400
    assert [item["row"] for item in response.context["row_errors"]] == [3, 4]
    html = response.content.decode()
    assert "row-errors" in html and f"{YEAR}-13-01" in html and "holiday 或 workday" in html
    assert not HolidayYear.objects.exists() and not HolidayDate.objects.exists()


def test_upload_form_errors(client, manager):
    client.force_login(manager)
    response = client.post(reverse("kernel:calendar_import"), {"year": "abc"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"year", "file"}
    response = client.post(
        reverse("kernel:calendar_import"),
        {"year": YEAR, "file": SimpleUploadedFile("x.csv", f"{YEAR}-01-01,holiday,元旦\n".encode("gbk"))},
    )
    assert response.status_code == 400 and "UTF-8" in response.content.decode()
    assert not HolidayYear.objects.exists()


def test_csv_download_and_delete(client, manager):
    client.force_login(manager)
    response = client.get(reverse("kernel:calendar_year_csv", args=[2026]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "2026-10-10,workday,国庆节" in response.content.decode()
    assert client.get(reverse("kernel:calendar_year_csv", args=[YEAR])).status_code == 404

    upload(client, f"{YEAR}-01-01,holiday,元旦\n")
    response = client.post(reverse("kernel:calendar_delete", args=[YEAR]))
    assert response.status_code == 302
    assert not HolidayYear.objects.exists()
    response = client.post(reverse("kernel:calendar_delete", args=[YEAR]), follow=True)
    assert "没有管理员录入的" in response.content.decode()

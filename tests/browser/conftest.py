"""Browser tests: headless Debian Chromium (never a downloaded browser) driven by Playwright against
pytest-django's live server. Screenshots go to $ZHIDU_SHOTS_DIR (default /tmp/zhidu-shots)."""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from zhidu.customers.tests.conftest import make_customer, org  # noqa: E402, F401

CHROMIUM = os.environ.get("ZHIDU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Browser-Test-2026"


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    path = Path(os.environ.get("ZHIDU_SHOTS_DIR", "/tmp/zhidu-shots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page):
    """Gives `user` a password and logs in through the login page."""

    def sign_in(user):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        page.goto("/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#user-menu")
        return page

    return sign_in

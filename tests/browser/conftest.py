"""Browser tests: Playwright (the PyPI package, which bundles its driver) drives Debian's
Chromium against pytest-django's live server.

Playwright's own browser download does not work here (no internet but the package
registries): `make test` installs Debian's chromium first (.ci/install-chromium) when
/usr/bin/chromium is missing. Without it these tests fail, saying why: CI must run them,
not skip them.
"""

import os
from pathlib import Path

import pytest

from config.roles import sync_roles

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, Chromium keeps trying to reach Google's hosts on a closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "pw-for-tests-1"  # tests/factories.py
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium_path():
    """Debian's Chromium (make test installs it: .ci/install-chromium)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}: run `make test` (it "
            "installs it, as root), or `.ci/install-chromium`.",
            pytrace=False,
        )
    return str(CHROMIUM)


@pytest.fixture(scope="package")
def browser(chromium_path):
    """One headless Chromium for all the browser tests.

    Playwright's sync API keeps an event loop in this thread, and Django refuses ORM calls
    while one is there (SynchronousOnlyOperation). The tests' set-up, their workers and the
    database flush after each test use the ORM in this thread; nothing here is async code, so
    Django's guard is lifted while the browser runs. Package-scoped, not session-scoped, so
    that the browser, its loop and the lifted guard are gone before the other packages' tests.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) per test, pointed at the live server."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(15_000)
    # The admin's navigation sidebar starts closed (the user's choice, kept in localStorage),
    # so that wide changelists fit in the 1280-pixel screenshots.
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def roles(db):
    sync_roles()  # the groups; a transactional test's flush removed the previous ones


@pytest.fixture
def login(page, make, roles):
    """Create a staff user with a role and log in through the admin's login form."""
    from playwright.sync_api import expect

    def login(username, role=None, superuser=False):
        make.user(username, role=role, superuser=superuser)
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#user-tools")).to_contain_text(username.upper(), ignore_case=True)
        return page

    return login


@pytest.fixture
def sync_queue():
    """An empty sync queue: nothing queued, scheduled or flagged by earlier tests."""
    import django_rq

    queue = django_rq.get_queue("sync")
    redis = queue.connection
    for key in redis.scan_iter("inventory:sync-queued:*"):
        redis.delete(key)
    queue.empty()
    for job_id in queue.scheduled_job_registry.get_job_ids():
        queue.scheduled_job_registry.remove(job_id, delete_job=True)
    return queue


@pytest.fixture(scope="session")
def screenshot_dir():
    path = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "var" / "screenshots")
    if not path.is_absolute():
        path = ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shoot(screenshot_dir):
    """Save a full-page PNG of what the page shows now, as <name>.png."""

    def shoot(page, name):
        page.wait_for_load_state("load")
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)

    return shoot

"""Every admin page, opened as each role at 1,280 px on a bad day's data (a channel in error
with a 5,000-character error, names of 100+ characters: tests/config/site_data.py), holds:
no horizontal overflow of the content, no server error, no raw repr or traceback, no title
that is bare numbers, and a refusal inside the admin's frame naming a role.

One login per role, one browser page for all; every failure is collected and reported in one
message, page by page. A screenshot of each failing page goes to var/screenshots/every-page/."""

import re

import pytest
from playwright.sync_api import Error as PlaywrightError

from config.roles import CLERK, MANAGER, VIEWER
from tests.browser.conftest import PASSWORD, ROOT
from tests.config.site_data import build_site, every_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERS = [("vera", VIEWER), ("carl", CLERK), ("mia", MANAGER), ("root", None)]
RAW = ("<django.", "object at 0x", "Traceback (most recent call last)", "Traceback")
# A title of numbers and joiners only: "13 on 2", "#19", "11@2", "24: 5 vs 42".
BARE = re.compile(r"^[\s#]*\d+(\s*(on|@|at|vs|:|of|,|-)?\s*#?\d+)*\s*$")
SHOTS = ROOT / "var" / "screenshots" / "every-page"
MAX_SHOTS = 40

LOOK = """() => {
  const content = document.querySelector('#content');
  const text = (sel) => [...document.querySelectorAll(sel)].map(e => e.innerText.trim());
  return {
    overflow: content ? content.scrollWidth - content.clientWidth : 0,
    widest: content ? content.scrollWidth : 0,
    title: document.title,
    headings: text('#content h1, #content > h2, #content-main > h2'),
    body: document.body ? document.body.innerText : '',
    html: document.documentElement.outerHTML.length,
    framed: !!document.querySelector('#header') && !!document.querySelector('.breadcrumbs'),
  };
}"""


@pytest.fixture
def bad_day(make, roles, sync_queue):
    site = build_site()
    users = {}
    for username, role in USERS:
        users[username] = make.user(username, role=role, superuser=role is None)
    return site


def log_in(page, username):
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def problems_of(response, look, role):
    """What is wrong with the page just opened, in words."""
    found = []
    status = response.status if response else 0
    if status >= 500 or status in (0, 404):
        found.append(f"status {status}")
    if look["overflow"] > 1:
        found.append(f"#content {look['widest']} px wide: {look['overflow']} px past 1,280")
    for raw in RAW:
        if raw in look["body"]:
            found.append(f"raw text {raw!r} on the page")
            break
    titles = [*look["headings"], *look["title"].split(" | ")[:-1]]
    for title in titles:
        if "{'" in title or '{"' in title:
            found.append(f"a JSON dump in the title {title[:80]!r}")
        elif BARE.match(title):
            found.append(f"a bare numeric title {title!r}")
    if status == 403:
        if not look["framed"]:
            found.append("a refusal outside the admin's frame")
        if not any(name in look["body"] for name in (VIEWER, CLERK, MANAGER, "administrators")):
            found.append("a refusal naming no role")
    return found


def problems_of_download(response):
    """A page that is a file to download (a CSV): it comes, as a file, for those it is for."""
    disposition = response.headers.get("content-disposition", "")
    if response.status != 200:
        return [f"download status {response.status}"]
    if not disposition.startswith("attachment"):
        return [f"a download without a file name ({disposition!r})"]
    return []


def test_every_admin_page_holds_for_every_role(page, bad_day):
    urls = every_admin_url()
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures, shots, opened = [], 0, 0
    for username, role in USERS:
        who = role or "superuser"
        log_in(page, username)
        for name, url in urls:
            opened += 1
            try:
                response = page.goto(url, wait_until="load")
            except PlaywrightError as error:
                if "Download is starting" not in str(error):
                    raise
                found = problems_of_download(page.request.get(url))  # a CSV of problems
            else:
                found = problems_of(response, page.evaluate(LOOK), who)
            if found:
                failures.append(f"{who:<17} {url}  ({name}): {'; '.join(found)}")
                if shots < MAX_SHOTS:
                    page.screenshot(path=SHOTS / f"{username}-{name}.png", full_page=True)
                    shots += 1
    assert opened > 4 * 100, opened  # every page, not a few
    assert not failures, f"{len(failures)} of {opened} pages fail:\n" + "\n".join(failures)

"""The site as a whole at 1,280 px: a refusal inside the admin's frame naming the role, the
dashboard on a bad day (a channel in error with a 5,000-character error, a paused one with a
long reason, 100-character names)."""

import pytest
from playwright.sync_api import expect

from config.roles import CLERK, MANAGER
from tests.config.site_data import LONG_CHANNEL, build_site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = (
    "() => { const c = document.querySelector('#content'); return c.scrollWidth - c.clientWidth; }"
)


def right_edge(page, selector):
    box = page.locator(selector).first.bounding_box()
    return box["x"] + box["width"]


def test_a_refusal_is_framed_and_names_the_role(page, login, roles, shoot, sync_queue):
    build_site()
    login("carl", role=CLERK)
    response = page.goto("/admin/connectors/channel/add/")
    assert response.status == 403
    expect(page.locator("#header")).to_contain_text("Inventory back-office")
    expect(page.locator(".breadcrumbs")).to_contain_text("Channels")
    expect(page.locator(".errornote")).to_have_text(
        "Adding a channel needs the Inventory manager role. You are a Stock clerk. "
        "Ask an administrator."
    )
    expect(page.locator("#user-tools")).to_contain_text("CARL", ignore_case=True)
    shoot(page, "site-403")


def test_the_dashboard_holds_at_1280_on_a_bad_day(page, login, roles, shoot, sync_queue):
    build_site()
    login("mia", role=MANAGER)
    channels = page.locator("#dashboard-channels")
    row = channels.locator("tr", has_text=LONG_CHANNEL[:40])
    expect(row.locator("td.error details.clipped")).to_be_visible()
    shoot(page, "site-dashboard-bad-day")
    assert page.evaluate(OVERFLOW) <= 1
    # Failed, Last error and Circuit in sight, left of "Recent actions", which overlaps nothing.
    for header in ("Failed", "Last error", "Circuit"):
        assert right_edge(page, f"#dashboard-channels th:has-text('{header}')") <= 1280
    recent = page.locator("#recent-actions-module").bounding_box()
    assert right_edge(page, "#dashboard-channels table") <= recent["x"]
    # The long name breaks between words: its cell is far wider than a few letters.
    name = row.locator("th[scope=row]").bounding_box()
    assert name["width"] > 120
    # The paused channel's reason is a short line, the whole of it a click away.
    paused = channels.locator("tr", has_text="Demo zettle")
    expect(paused.locator("td.mode")).to_contain_text("Paused")
    assert paused.bounding_box()["height"] < 100  # a few lines, not the whole reason
    row.locator("td.error summary").click()
    expect(row.locator("td.error .clipped-whole")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 1
    shoot(page, "site-dashboard-bad-day")

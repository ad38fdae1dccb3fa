"""A refusal is a page of the admin (its header, navigation and breadcrumbs) that says what was
refused, which role may do it and which role the user has; it never fails itself."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import resolve

from config.forbidden import permission_denied
from config.roles import CLERK, MANAGER, VIEWER, sync_roles
from inventory.models import StockTransaction
from tests.config.site_data import build_site, every_admin_url

ROLE_NAMES = (VIEWER, CLERK, MANAGER)


@pytest.fixture
def site(db, make):
    sync_roles()
    return build_site()


def test_every_refusal_of_every_role_is_framed_and_names_a_role(client, make, site):
    urls = every_admin_url()
    refused, wrong = [], []
    for username, role in (("vera", VIEWER), ("carl", CLERK), ("mia", MANAGER)):
        client.force_login(make.user(username, role=role))
        for name, url in urls:
            response = client.get(url)
            if response.status_code != 403:
                continue
            refused.append((role, url))
            page = response.content.decode()
            problems = [
                what
                for what, ok in [
                    ("no header", 'id="header"' in page),
                    ("no navigation", 'id="nav-sidebar"' in page),
                    ("no breadcrumbs", 'class="breadcrumbs"' in page),
                    (
                        "no role named",
                        any(r in page for r in ROLE_NAMES) or "administrators" in page,
                    ),
                    (f"does not say the user is a {role}", role in page),
                ]
                if not ok
            ]
            if problems:
                wrong.append(f"{role} {url} ({name}): {', '.join(problems)}")
    assert len(refused) >= 30, refused  # the issue counted 46 across the three roles
    assert not wrong, "\n".join(wrong)


def test_a_clerk_refused_a_channel_change_is_told_the_managers_may(client, make, site):
    client.force_login(make.user("carl", role=CLERK))
    response = client.get("/admin/connectors/channel/add/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Adding a channel needs the Inventory manager role." in page
    assert "You are a Stock clerk. Ask an administrator." in page
    assert '<a href="/admin/connectors/channel/">Channels</a>' in page  # breadcrumbs


def test_a_viewer_refused_an_adjustment_is_told_which_roles_may(client, make, site):
    client.force_login(make.user("vera", role=VIEWER))
    response = client.get(f"/admin/inventory/variant/{site['variant'].pk}/adjust/")
    assert response.status_code == 403
    assert (
        "Adjusting stock needs the Stock clerk or Inventory manager role. You are a Viewer."
        in response.content.decode()
    )


def test_the_job_queues_refused_to_a_clerk_name_the_manager_role(client, make, site):
    client.force_login(make.user("carl", role=CLERK))
    response = client.get("/admin/django_rq/dashboard/queues/0/")
    assert response.status_code == 403
    assert "Using the job queues needs the Inventory manager role." in response.content.decode()


def test_a_page_closed_to_everyone_says_so_to_a_superuser(client, make, site):
    client.force_login(make.user("root", superuser=True))
    line = StockTransaction.objects.first()
    response = client.get(f"/admin/inventory/stocktransaction/{line.pk}/delete/")
    assert response.status_code == 403
    page = response.content.decode()
    assert (
        "Deleting a ledger entry is not done on this page, by any role, administrators too." in page
    )
    assert "You are an administrator (superuser)." in page


@pytest.mark.django_db
def test_a_refusal_outside_the_admin_or_to_nobody_is_still_a_page():
    factory = RequestFactory()
    for path in ("/hooks/abc/", "/no/such/page/", "/admin/inventory/variant/"):
        request = factory.get(path)
        request.user = AnonymousUser()
        try:
            request.resolver_match = resolve(path)
        except Exception:
            request.resolver_match = None
        request.session = {}
        response = permission_denied(request, Exception())
        assert response.status_code == 403
        page = response.content.decode()
        assert "Not allowed" in page, path
        assert "Log in" in page, path


def test_a_refusal_whose_page_breaks_falls_back_to_plain_words(rf, monkeypatch):
    request = rf.get("/admin/")
    monkeypatch.setattr("config.forbidden.render_to_string", lambda *a, **k: 1 / 0)
    response = permission_denied(request)
    assert response.status_code == 403
    assert response.content.decode().startswith("403 Forbidden")

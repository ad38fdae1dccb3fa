"""The admin's front page: stock by location, variants to reorder, channel health and the
latest movements, for those who may see each, in a fixed number of queries."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.roles import VIEWER, sync_roles
from connectors.models import Channel, Listing
from inventory.display import when
from inventory.models import Source
from inventory.services import StockLine, stock_apply

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
SECTIONS = ("dashboard-locations", "dashboard-reorder", "dashboard-channels", "dashboard-movements")


def login(client, make, username, **kwargs):
    user = make.user(username, **kwargs)
    client.login(username=username, password="pw-for-tests-1")
    return user


@pytest.fixture
def shop(make):
    """Two locations; a variant at its reorder point, one just above it, one without a reorder
    point, an untracked one at zero; two channels; a last movement with a reason."""
    wh = make.location("WH1", name="Main warehouse")
    store = make.location("STORE", name="High street", kind="store")
    at_point = make.variant("AT-POINT", name="At its point", reorder_point=5)
    above = make.variant("ABOVE", reorder_point=5)
    unset = make.variant("NO-POINT")
    free = make.variant("DIGITAL", tracked=False, reorder_point=3)
    make.stock(at_point, wh, 4)
    make.stock(at_point, store, 3, allocated=2)  # 4 + (3 - 2) = 5 available: at its point
    make.stock(above, wh, 6)  # 6 > 5
    make.stock(unset, store, 0)  # a level at zero, no reorder point
    make.stock(free, store, 0)  # untracked: never "out", never to reorder
    live = Channel.objects.create(
        name="Webshop",
        platform="highlevel",
        base_url="http://127.0.0.1:1",
        mode="live",
        last_success_at=timezone.now(),
    )
    broken = Channel.objects.create(
        name="Marketplace",
        platform="unicommerce",
        base_url="http://127.0.0.1:2",
        mode="shadow",
        last_error="HTTP 503 from the API",
        last_error_at=timezone.now(),
        circuit_open_until=timezone.now() + timedelta(minutes=5),
    )
    for n, variant in enumerate((at_point, above, unset)):
        Listing.objects.create(channel=live, variant=variant, remote_id=f"w{n}")  # pending
        Listing.objects.create(
            channel=broken, variant=variant, remote_id=f"m{n}", pending_since=None, status="ok"
        )
    Listing.objects.filter(channel=broken, variant=above).update(status="failed")
    stock_apply(
        lines=[StockLine(action="increment", quantity=1, variant_id=above.pk, location_id=wh.pk)],
        source=Source.ADMIN,
        reason="goods received",
        reference="PO-4711",
    )
    return {
        "wh": wh,
        "store": store,
        "at_point": at_point,
        "above": above,
        "live": live,
        "broken": broken,
    }


def test_stock_on_hand_and_available_by_location(client, make, shop):
    login(client, make, "boss", superuser=True)

    response = client.get(INDEX)

    rows = {loc.code: totals for loc, totals in response.context["locations"]}
    # WH1: AT-POINT 4, ABOVE 6 + 1; STORE: AT-POINT 3 (2 allocated), NO-POINT 0, DIGITAL 0.
    assert rows["WH1"] == {
        "on_hand_total": 11,
        "allocated_total": 0,
        "available_total": 11,
        "skus": 2,
        "out": 0,
    }
    assert rows["STORE"] == {
        "on_hand_total": 3,
        "allocated_total": 2,
        "available_total": 1,
        "skus": 3,
        "out": 1,
    }
    assert response.context["location_totals"]["available_total"] == 12
    html = response.content.decode()
    levels = reverse("admin:inventory_stocklevel_changelist")
    assert f'href="{levels}?location__id__exact={shop["wh"].pk}">WH1</a> · Main warehouse' in html


def test_a_variant_at_its_reorder_point_is_listed_and_one_above_is_not(client, make, shop):
    login(client, make, "boss", superuser=True)

    response = client.get(INDEX)

    assert [v.sku for v in response.context["reorder"]] == ["AT-POINT"]
    assert response.context["reorder_count"] == 1
    html = response.content.decode()
    change = reverse("admin:inventory_variant_change", args=[shop["at_point"].pk])
    assert f'<a href="{change}">AT-POINT</a>' in html
    assert "At or below reorder point: 1 variant<" in html


def test_the_reorder_filter_of_the_variant_list_shows_the_same_variants(client, make, shop):
    make.variant("NEVER-STOCKED", reorder_point=0)  # no level at all: 0 available, at 0
    login(client, make, "boss", superuser=True)
    changelist = reverse("admin:inventory_variant_changelist")

    listed = client.get(changelist, {"stock": "low"}).context["cl"].result_list
    dashboard = client.get(INDEX).context

    assert sorted(v.sku for v in listed) == ["AT-POINT", "NEVER-STOCKED"]
    assert sorted(v.sku for v in dashboard["reorder"]) == ["AT-POINT", "NEVER-STOCKED"]
    assert f'href="{changelist}?stock=low"' in client.get(INDEX).content.decode()


def test_channel_health_counts_pending_and_failed_listings(client, make, shop):
    login(client, make, "boss", superuser=True)

    response = client.get(INDEX)

    health = {
        h.channel.name: (h.mode, h.channel.n_pending, h.channel.n_failed, h.circuit.split()[0])
        for h in response.context["channels"]
    }
    assert health == {"Webshop": ("Live", 3, 0, "closed"), "Marketplace": ("Shadow", 0, 1, "open")}
    html = response.content.decode()
    assert reverse("admin:connectors_channel_change", args=[shop["broken"].pk]) in html
    assert "HTTP 503 from the API" in html
    failed = f"?channel__id__exact={shop['broken'].pk}&amp;status__exact=failed"
    assert failed in html


def test_the_latest_movement_comes_first_with_a_link(client, make, shop):
    login(client, make, "boss", superuser=True)

    response = client.get(INDEX)

    latest = response.context["movements"][0]
    assert (latest.reason, latest.reference, latest.line_count) == ("goods received", "PO-4711", 1)
    html = response.content.decode()
    assert f'<a href="{reverse("admin:inventory_movement_change", args=[latest.pk])}">' in html
    assert "PO-4711" in html


def test_each_section_needs_the_permission_to_view_its_model(client, make, shop):
    user = login(client, make, "val")  # staff, no permission at all
    html = client.get(INDEX).content.decode()
    assert not [s for s in SECTIONS if s in html]

    user.user_permissions.add(Permission.objects.get(codename="view_variant"))
    html = client.get(INDEX).content.decode()
    assert [s for s in SECTIONS if s in html] == ["dashboard-reorder"]
    assert "Webshop" not in html
    assert "PO-4711" not in html

    user.user_permissions.add(Permission.objects.get(codename="view_channel"))
    html = client.get(INDEX).content.decode()
    assert [s for s in SECTIONS if s in html] == ["dashboard-reorder", "dashboard-channels"]
    assert "status__exact=failed" not in html  # no link to listings it may not see


def test_a_viewer_sees_every_section_and_the_app_list(client, make, shop):
    sync_roles()
    login(client, make, "vera", role=VIEWER)

    html = client.get(INDEX).content.decode()

    assert [s for s in SECTIONS if s in html] == list(SECTIONS)
    assert reverse("admin:inventory_variant_changelist") in html  # the app list, below


# ---------------------------------------------------------------- cost


def _grow(make, n):
    """n more variants stocked at two locations (some at their reorder point), each listed on
    both channels, each stocked by a movement of its own; and one more location."""
    locations = [make.location(), make.location()]
    channels = list(Channel.objects.all())
    for i in range(n):
        variant = make.variant(reorder_point=10 if i % 2 else None)
        lines = [
            StockLine(
                action="increment", quantity=5 + i % 10, variant_id=variant.pk, location_id=loc.pk
            )
            for loc in locations
        ]
        stock_apply(lines=lines, source=Source.SYSTEM, reason="grow")
        for channel in channels:
            Listing.objects.create(channel=channel, variant=variant, remote_id=f"g{variant.pk}")


def _queries(client):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(INDEX).status_code == 200
    return len(ctx.captured_queries)


def test_the_dashboard_costs_the_same_queries_at_any_catalog_size(client, make, shop):
    login(client, make, "boss", superuser=True)
    client.get(INDEX)  # warms the content types' cache
    small = _queries(client)
    _grow(make, 60)

    large = _queries(client)

    # Session and user; levels by location and the locations; the variants to reorder and
    # the few shown; channels with their counts; short lines, held orders, deliveries and quiet
    # channels; latest movements; the sidebar's own actions.
    assert (small, large) == (13, 13)


def test_a_channel_error_is_shown_with_its_time_until_a_later_success(client, make, shop):
    login(client, make, "boss", superuser=True)
    broken = shop["broken"]
    Channel.objects.filter(pk=broken.pk).update(
        last_error="HTTP 503 from the API " * 300, last_error_at=timezone.now()
    )
    html = client.get(INDEX).content.decode()
    assert "HTTP 503 from the API" in html
    assert '<details class="clipped">' in html  # shortened, the whole error a click away
    assert when(Channel.objects.get(pk=broken.pk).last_error_at) in html

    Channel.objects.filter(pk=broken.pk).update(
        last_success_at=timezone.now() + timedelta(minutes=1)
    )
    html = client.get(INDEX).content.decode()
    assert "HTTP 503 from the API" not in html
    assert "none since" in html


def test_a_paused_channels_reason_is_shortened_and_the_out_of_stock_count_links(client, make, shop):
    login(client, make, "boss", superuser=True)
    Channel.objects.filter(pk=shop["broken"].pk).update(
        mode="paused", paused_reason='{"error": "invalid_token", "detail": "' + "x" * 200 + '"}'
    )
    html = client.get(INDEX).content.decode()
    assert "Paused: <details" in html
    (link,) = set(re.findall(r'href="([^"]*stocklevel/\?[^"]*available=le0[^"]*)"', html))
    listed = client.get(link.replace("&amp;", "&"))
    assert listed.status_code == 200  # a filter the list knows (an unknown one redirects)
    assert listed.context["cl"].result_count > 0

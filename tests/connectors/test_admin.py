"""Channels, listings and push records in the admin, as an inventory manager uses them."""

from importlib import import_module

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from config.roles import MANAGER, VIEWER, sync_roles
from connectors.admin.forms import ListingForm
from connectors.models import Channel, Drift, Listing, PushRecord
from connectors.services.push import sync_channel_run
from inventory.models import StockTransaction

pytestmark = pytest.mark.django_db

LOCATION = "6578278e879ad2646715ba9c"
TOKEN = "pit-hl-sandbox-token"


@pytest.fixture
def manager(client, make):
    sync_roles()
    make.user("mia", role=MANAGER)
    client.login(username="mia", password="pw-for-tests-1")
    return client


@pytest.fixture
def channel(make, running_highlevel):
    wh = make.location("WH1")
    channel = Channel.objects.create(
        name="HL shop",
        platform="highlevel",
        base_url=running_highlevel.url,
        credentials={"token": TOKEN},
        settings={"location_id": LOCATION},
    )
    channel.locations.set([wh])
    return channel


def channel_form(**overrides):
    data = {
        "name": "Webshop",
        "platform": "highlevel",
        "base_url": "http://127.0.0.1:8101",
        "mode": "live",
        "setting_location_id": LOCATION,
        "buffer": 0,
        "zero_out_threshold": 0,
        "credential_token": TOKEN,
    }
    data.update(overrides)
    return data


def test_a_manager_creates_a_channel_and_the_credentials_are_never_shown_back(manager, make):
    wh = make.location("WH1")
    response = manager.post(
        reverse("admin:connectors_channel_add"), channel_form(locations=[wh.pk])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert channel.credentials == {"token": TOKEN}
    page = manager.get(reverse("admin:connectors_channel_change", args=[channel.pk]))
    html = page.content.decode()
    assert TOKEN not in html
    assert "Write-only (set: leave blank to keep)" in html


def test_a_blank_credential_keeps_the_stored_one(manager, channel):
    url = reverse("admin:connectors_channel_change", args=[channel.pk])
    data = channel_form(
        name="HL shop",
        credential_token="",
        buffer=3,
        base_url=channel.base_url,
        locations=list(channel.locations.values_list("pk", flat=True)),
    )
    assert manager.post(url, data).status_code == 302
    channel.refresh_from_db()
    assert (channel.credentials, channel.buffer) == ({"token": TOKEN}, 3)


def test_platform_settings_are_checked(manager):
    response = manager.post(
        reverse("admin:connectors_channel_add"), channel_form(setting_location_id="")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["setting_location_id"] == ["HighLevel: 'Location id (altId)' is required"]
    assert not Channel.objects.exists()


def test_each_setting_is_a_field_of_its_kind_with_the_platforms_words(manager, make):
    add = reverse("admin:connectors_channel_add")
    page = manager.get(add).content.decode()
    assert "Elastic Path: Location slug (optional) (Multi-location inventories" in page
    assert '<input type="number" name="setting_batch_max"' in page
    refused = manager.post(
        add,
        channel_form(
            platform="unicommerce",
            credential_username="u",
            credential_password="p",
            setting_batch_max="lots",
            setting_auth_method="PUT",
        ),
    )
    errors = refused.context["adminform"].form.errors
    assert errors["setting_batch_max"] == ["Enter a whole number."]
    assert "setting_auth_method" in errors
    saved = manager.post(
        add,
        channel_form(
            platform="unicommerce",
            credential_username="u",
            credential_password="p",
            setting_batch_max="250",
            setting_auth_method="GET",
            setting_location_id="ignored: not Unicommerce's",
            locations=[make.location("WH1").pk],
        ),
    )
    assert saved.status_code == 302
    assert Channel.objects.get().settings == {"batch_max": 250, "auth_method": "GET"}


def test_each_credential_field_says_which_platform_uses_it_and_as_what(manager):
    page = manager.get(reverse("admin:connectors_channel_add")).content.decode()
    # HighLevel's and Webflow's tokens share one field: its label names neither.
    assert '<label for="id_credential_token">Token:</label>' in page
    used_by = "HighLevel: Private Integration Token (optional); Webflow: Site API token (A site"
    assert used_by in page
    assert "Elastic Path: Client secret" in page


def test_nobody_edits_or_deletes_a_push_record(client, make, channel):
    record = PushRecord.objects.create(
        channel=channel, purpose="write", method="POST", url=channel.base_url, status=201
    )
    make.user("root", superuser=True)
    client.login(username="root", password="pw-for-tests-1")
    page = client.get(reverse("admin:connectors_pushrecord_change", args=[record.pk]))
    assert page.status_code == 200
    assert "deletelink" not in page.content.decode()
    delete = reverse("admin:connectors_pushrecord_delete", args=[record.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    # Nor through its channel: a channel with a history is paused, not deleted.
    channel_delete = reverse("admin:connectors_channel_delete", args=[channel.pk])
    assert "push record" in client.get(channel_delete).content.decode()
    client.post(channel_delete, {"post": "yes"})
    assert PushRecord.objects.filter(pk=record.pk).exists()


def test_test_connection_reports_success_and_failure(manager, channel):
    changelist = reverse("admin:connectors_channel_changelist")
    ok = manager.post(
        changelist, {"action": "test_connection", "_selected_action": [channel.pk]}, follow=True
    )
    assert "HL shop: authenticated" in ok.content.decode()
    Channel.objects.filter(pk=channel.pk).update(credentials={"token": "pit-wrong"})
    bad = manager.post(
        changelist, {"action": "test_connection", "_selected_action": [channel.pk]}, follow=True
    )
    assert "HL shop: failed: highlevel refused the credentials (401)" in bad.content.decode()


def test_push_records_are_browsable_with_pretty_json_and_filters(
    manager, channel, make, running_highlevel
):
    running_highlevel.seed(items=[{"priceId": "p1"}])
    Listing.objects.create(channel=channel, variant=make.variant("TEE"), remote_id="p1")
    sync_channel_run(channel.pk, "test-run")
    record = PushRecord.objects.get()
    changelist = reverse("admin:connectors_pushrecord_changelist")
    for query in ("", f"?channel__id__exact={channel.pk}", "?outcome=ok", "?status=201"):
        assert manager.get(changelist + query).status_code == 200
    page = manager.get(reverse("admin:connectors_pushrecord_change", args=[record.pk]))
    html = page.content.decode()
    assert "&quot;altId&quot;: &quot;6578278e879ad2646715ba9c&quot;" in html  # indented JSON
    assert TOKEN not in html


def test_listings_show_on_the_variant_page_and_can_be_searched(manager, channel, make):
    tee = make.variant("TEE-RED")
    Listing.objects.create(channel=channel, variant=tee, remote_id="price-red")
    page = manager.get(reverse("admin:inventory_variant_change", args=[tee.pk]))
    assert "price-red" in page.content.decode()
    found = manager.get(reverse("admin:connectors_listing_changelist"), {"q": "TEE-RED"})
    assert "price-red" in found.content.decode()


def test_a_viewer_sees_a_channel_without_any_credential_field(client, make, channel):
    sync_roles()
    make.user("vera", role=VIEWER)
    client.login(username="vera", password="pw-for-tests-1")
    page = client.get(reverse("admin:connectors_channel_change", args=[channel.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "credential_token" not in html
    assert TOKEN not in html


def test_push_records_filter_by_status_class_exact_status_and_purpose(manager):
    channel = Channel.objects.create(name="Shop", platform="highlevel", base_url="http://x.io")
    for purpose, status in (("write", 200), ("write", 503), ("read", 429), ("locations", None)):
        PushRecord.objects.create(
            channel=channel, purpose=purpose, method="POST", url="/", status=status, outcome="ok"
        )
    changelist = reverse("admin:connectors_pushrecord_changelist")

    def shown(**params):
        records = manager.get(changelist, params).context["cl"].result_list
        return sorted((r.purpose, r.status or 0) for r in records)

    assert shown(status="5xx") == [("write", 503)]
    assert shown(status="4xx") == [("read", 429)]
    assert shown(status="429") == [("read", 429)]
    assert shown(status="none") == [("locations", 0)]
    assert shown(purpose="write") == [("write", 200), ("write", 503)]
    assert shown(purpose="setup") == [("locations", 0)]


def test_a_listing_page_asks_for_the_variant_by_sku_and_shows_its_sync_in_words(
    manager, channel, make
):
    listing = Listing.objects.create(
        channel=channel, variant=make.variant("TEE-RED"), remote_id="p"
    )
    Listing.objects.filter(pk=listing.pk).update(attempts=1, status="pending")
    page = manager.get(reverse("admin:connectors_listing_change", args=[listing.pk]))
    html = page.content.decode()
    assert "TEE-RED on HL shop" in html  # the title names SKU and channel
    form = page.context["adminform"].form
    assert set(form.fields) == {"variant", "remote_parent_id", "remote_id"}  # channel: shown
    assert "admin-autocomplete" in str(form["variant"])  # found by typing a SKU
    assert "Pending since" in html
    assert "attempt 2 of 6" in html
    for internal in ("change_seq", "claimed_by", "next_attempt_at", "pending_since"):
        assert f'name="{internal}"' not in html


def test_a_drift_and_a_ledger_line_are_titled_with_names(manager, channel, make):
    listing = Listing.objects.create(channel=channel, variant=make.variant("MUG"), remote_id="m")
    drift = Drift.objects.create(listing=listing, channel_quantity=5, target=None)
    page = manager.get(reverse("admin:connectors_drift_change", args=[drift.pk])).content.decode()
    assert "MUG on HL shop: channel shows 5, should show no limit" in page
    make.stock(listing.variant, channel.locations.get(), 3)
    entry = StockTransaction.objects.latest("pk")
    page = manager.get(reverse("admin:inventory_stocktransaction_change", args=[entry.pk]))
    assert "MUG at WH1: counted 3 (+3), 3 on hand" in page.content.decode()


def test_a_listing_given_another_variant_is_sent_that_variants_quantity(manager, channel, make):
    first, second = make.variant("TEE-S"), make.variant("TEE-L")
    listing = Listing.objects.create(channel=channel, variant=first, remote_id="p1")
    Listing.objects.filter(pk=listing.pk).update(
        pending_since=None, confirmed_at=timezone.now(), confirmed_quantity=0, status="ok"
    )
    url = reverse("admin:connectors_listing_change", args=[listing.pk])
    data = {"variant": second.pk, "remote_parent_id": "", "remote_id": "p1"}
    assert manager.post(url, data).status_code == 302
    listing.refresh_from_db()
    assert (listing.variant, listing.status, listing.confirmed_at) == (second, "pending", None)
    assert listing.pending_since is not None


def test_a_listing_cannot_move_to_another_channel(channel, make):
    other = Channel.objects.create(name="Other", platform="highlevel", base_url=channel.base_url)
    listing = Listing.objects.create(channel=channel, variant=make.variant("CAP"), remote_id="c")
    form = ListingForm(
        {"channel": other.pk, "variant": listing.variant_id, "remote_id": "c"}, instance=listing
    )
    assert "stays on its channel" in str(form.errors["channel"])


def test_a_stored_untracked_quantity_below_one_becomes_one():
    migration = import_module("connectors.migrations.0005_untracked_quantity_at_least_one")
    low = Channel.objects.create(
        name="EP",
        platform="elasticpath",
        base_url="https://x.invalid",
        settings={"untracked_quantity": "0", "location_slug": "a"},
    )
    odd = Channel.objects.create(
        name="UC",
        platform="unicommerce",
        base_url="https://x.invalid",
        settings={"untracked_quantity": "lots"},
    )
    migration.at_least_one(apps, None)
    low.refresh_from_db()
    odd.refresh_from_db()
    assert low.settings == {"untracked_quantity": 1, "location_slug": "a"}
    assert odd.settings == {"untracked_quantity": "lots"}  # its check says what is wrong


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("setting_batch_max", "99999999999999999999"),
        ("setting_facility_code", "WH\x00"),
        ("setting_facility_code", "x" * 1_000_000),
        ("credential_password", "p\x00w"),
    ],
    ids=["past 32 bits", "NUL in a setting", "a megabyte", "NUL in a credential"],
)
def test_odd_channel_settings_are_refused_on_their_field(manager, field, value):
    data = channel_form(platform="unicommerce", credential_username="u", credential_password="p")
    data[field] = value
    response = manager.post(reverse("admin:connectors_channel_add"), data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Channel.objects.exists()

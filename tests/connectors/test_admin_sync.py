"""Channel health and the sync's controls in the admin, as a manager and a clerk use them."""

import re
from html import unescape

import django_rq
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rq import SimpleWorker

from config.roles import CLERK, MANAGER, sync_roles
from connectors.models import Channel, Drift, Listing, PushRecord
from connectors.services.push import sync_channel_run

pytestmark = pytest.mark.django_db

LOCATION = "6578278e879ad2646715ba9c"


@pytest.fixture
def shop(make, running_highlevel):
    sync_roles()
    wh = make.location("WH1")
    tee = make.variant("TEE")
    make.stock(tee, wh, 10)
    channel = Channel.objects.create(
        name="HL shop",
        platform="highlevel",
        base_url=running_highlevel.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings={"location_id": LOCATION},
        buffer=2,
    )
    channel.locations.set([wh])
    running_highlevel.seed(items=[{"priceId": "p-tee", "availableQuantity": 0}])
    listing = Listing.objects.create(channel=channel, variant=tee, remote_id="p-tee")
    return channel, listing, running_highlevel


def login(client, make, role):
    username = {MANAGER: "mia", CLERK: "carl"}[role]
    make.user(username, role=role)
    client.login(username=username, password="pw-for-tests-1")
    return client


def act(client, action, channel):
    data = {"action": action, "_selected_action": [channel.pk]}
    return client.post(reverse("admin:connectors_channel_changelist"), data, follow=True)


def test_the_channel_list_shows_health_and_the_queue(client, make, shop):
    page = login(client, make, MANAGER).get(reverse("admin:connectors_channel_changelist"))
    html = page.content.decode()
    assert "Sync queue:" in html
    assert '<td class="field-pending_count">1</td>' in html
    assert '<td class="field-circuit">closed</td>' in html


def test_pause_resume_push_and_retry_from_the_list(client, make, shop):
    channel, listing, _ = shop
    login(client, make, MANAGER)
    act(client, "pause", channel)
    channel.refresh_from_db()
    assert (channel.mode, channel.paused_reason) == ("paused", "paused by mia")
    act(client, "resume", channel)
    channel.refresh_from_db()
    assert channel.mode == "live"
    sync_channel_run(channel.pk, "test")
    Listing.objects.filter(pk=listing.pk).update(status="failed", pending_since=None)
    assert "HL shop: 1 queued" in act(client, "retry_failed", channel).content.decode()
    assert Listing.objects.get(pk=listing.pk).pending_since is not None
    assert "HL shop: 1 queued" in act(client, "push_now", channel).content.decode()


def test_the_variant_page_explains_each_channel_quantity(client, make, shop):
    channel, listing, _ = shop
    sync_channel_run(channel.pk, "test")
    page = login(client, make, MANAGER).get(
        reverse("admin:inventory_variant_change", args=[listing.variant_id])
    )
    html = page.content.decode()
    assert "available 10 at WH1 = 10 - buffer 2 = 8" in html
    assert "8 at " in html  # what the channel confirmed, and when
    assert "push #" in html


def _form_data(response):
    """The change form's fields as the browser would post them, inlines included."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += list(formset.forms)
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    for form in forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is None:
                continue
            if isinstance(value, dict | list) and not isinstance(value, str):
                value = field.prepare_value(value)
            if value is False:
                continue
            data[form.add_prefix(name)] = value
    return data


def test_making_a_variant_untracked_in_its_form_sends_it_again(client, make, shop):
    channel, listing, _ = shop
    sync_channel_run(channel.pk, "test")
    assert Listing.objects.get(pk=listing.pk).pending_since is None
    login(client, make, MANAGER)
    url = reverse("admin:inventory_variant_change", args=[listing.variant_id])
    data = _form_data(client.get(url))
    del data["tracked"]  # the box unticked
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Listing.objects.get(pk=listing.pk).pending_since is not None
    writes = PushRecord.objects.filter(channel=channel, purpose="write").count()
    sync_channel_run(channel.pk, "test")
    assert PushRecord.objects.filter(channel=channel, purpose="write").count() == writes + 1
    assert Listing.objects.get(pk=listing.pk).confirmed_at is not None  # sent again


@pytest.mark.django_db(transaction=True)  # the reconcile is queued once the request commits
def test_drift_resolutions_from_the_admin(client, make, shop):
    channel, listing, sandbox = shop
    sync_channel_run(channel.pk, "test")
    sandbox.seed(items=[{"priceId": "p-tee", "availableQuantity": 5}])
    login(client, make, MANAGER)
    assert "reconcile queued" in act(client, "reconcile", channel).content.decode()
    assert not Drift.objects.exists()  # a worker reads the channel, not the web request
    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)
    drift = Drift.objects.get()
    assert (drift.channel_quantity, drift.target) == (5, 8)
    changelist = reverse("admin:connectors_drift_changelist")
    assert client.get(changelist).status_code == 200
    response = client.post(
        changelist, {"action": "accept_channels", "_selected_action": [drift.pk]}, follow=True
    )
    assert "1 drift accepted as counts" in response.content.decode()
    drift.refresh_from_db()
    assert drift.resolution == "accepted"
    assert listing.variant.levels.get().on_hand == 7  # 10 + (5 - 8)


def test_only_managers_reach_the_job_queues(client, make, shop):
    dashboard = reverse("admin:django_rq_home")
    assert login(client, make, MANAGER).get(dashboard).status_code == 200
    client.logout()
    assert login(client, make, CLERK).get(dashboard).status_code == 403


def press(client, admin_name, obj, action):
    """A button of an object's own page (a POST of that one action), followed."""
    url = reverse(f"admin:connectors_{admin_name}_do", args=[obj.pk, action])
    return client.post(url, follow=True)


def buttons(html):
    found = re.findall(r'class="historylink object-action-button"[^>]*>([^<]+)</button>', html)
    return [unescape(label) for label in found]


def test_a_channels_page_acts_and_links_to_what_it_holds(client, make, shop):
    channel, _listing, _ = shop
    login(client, make, MANAGER)
    page_url = reverse("admin:connectors_channel_change", args=[channel.pk])
    html = client.get(page_url).content.decode()
    assert buttons(html) == [
        "Push now",
        "Pause",
        "Reconcile",
        "Test connection",
        "Pull orders",  # HighLevel takes its webhook URL in its own settings: no Register
    ]
    assert f"?channel__id__exact={channel.pk}" in html  # its listings, push records, orders
    assert "1 listing</a>" in html
    assert "Drifts (none open)" in html

    paused = press(client, "channel", channel, "pause")
    assert paused.redirect_chain[-1][0] == page_url  # back on its page
    assert "1 channel paused" in paused.content.decode()
    assert Channel.objects.get(pk=channel.pk).mode == Channel.Mode.PAUSED
    assert "Resume" in buttons(paused.content.decode())
    assert "Pause" not in buttons(paused.content.decode())
    resumed = press(client, "channel", channel, "resume")
    assert "1 channel resumed" in resumed.content.decode()
    assert Channel.objects.get(pk=channel.pk).mode == Channel.Mode.LIVE

    pushed = press(client, "channel", channel, "push_now")
    assert "HL shop: 1 queued" in pushed.content.decode()
    tested = press(client, "channel", channel, "test_connection").content.decode()
    assert "HL shop: authenticated" in tested

    # A followed link does nothing; an unknown action is not found.
    assert client.get(reverse("admin:connectors_channel_do", args=[channel.pk, "pause"])).url == (
        page_url
    )
    assert Channel.objects.get(pk=channel.pk).mode == Channel.Mode.LIVE
    bogus = reverse("admin:connectors_channel_do", args=[channel.pk, "delete_everything"])
    assert client.post(bogus).status_code == 404
    for odd in ("abc", "9" * 40, "1%00", "x" * 5000):  # no such channel, whatever the id
        assert client.post(f"/admin/connectors/channel/{odd}/do/pause/").status_code == 404


def test_a_clerk_sees_a_channels_page_without_its_buttons_and_may_not_press_them(
    client, make, shop
):
    channel, _, _ = shop
    login(client, make, CLERK)
    html = client.get(reverse("admin:connectors_channel_change", args=[channel.pk])).content
    assert buttons(html.decode()) == []
    assert press(client, "channel", channel, "pause").status_code == 403
    assert Channel.objects.get(pk=channel.pk).mode == Channel.Mode.LIVE


def test_a_drifts_page_resolves_it_with_a_button_and_has_nothing_to_save(client, make, shop):
    _channel, listing, _ = shop
    drift = Drift.objects.create(listing=listing, channel_quantity=5, target=8)
    login(client, make, MANAGER)
    url = reverse("admin:connectors_drift_change", args=[drift.pk])
    html = client.get(url).content.decode()
    assert "<title>TEE on HL shop: channel shows 5, should show 8" in html
    assert buttons(html) == ["Push our quantity", "Accept the channel's", "Ignore"]
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert reverse("admin:connectors_listing_change", args=[listing.pk]) in html

    done = press(client, "drift", drift, "push_ours").content.decode()
    assert "1 drift pushed" in done
    drift.refresh_from_db()
    assert drift.resolution == Drift.Resolution.PUSHED
    assert buttons(done) == []  # resolved: nothing more to press
    assert "mia" in done  # who resolved it, and when
    again = press(client, "drift", drift, "ignore")
    assert Drift.objects.get(pk=drift.pk).resolution == Drift.Resolution.PUSHED
    assert again.status_code == 200


def test_who_may_not_count_stock_is_not_offered_to_accept_a_drift(client, make, shop):
    _channel, listing, _ = shop
    drift = Drift.objects.create(listing=listing, channel_quantity=5, target=8)
    url = reverse("admin:connectors_drift_change", args=[drift.pk])
    login(client, make, CLERK)  # a clerk views drifts and resolves none
    assert buttons(client.get(url).content.decode()) == []
    client.logout()
    resolver = make.user("rita")
    resolver.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_drift", "change_drift"])
    )
    client.login(username="rita", password="pw-for-tests-1")
    assert buttons(client.get(url).content.decode()) == ["Push our quantity", "Ignore"]
    assert press(client, "drift", drift, "accept_channels").status_code == 403
    assert Drift.objects.get(pk=drift.pk).resolution == Drift.Resolution.OPEN

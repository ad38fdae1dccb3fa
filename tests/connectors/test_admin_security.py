"""The channel form and history: credentials never in an error report, a history page, a log
or a page; every change to rules, locations, mode and credentials kept with who and when."""

import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.views.debug import ExceptionReporter

from config.roles import MANAGER, VIEWER, sync_roles
from connectors.models import Channel

pytestmark = pytest.mark.django_db

LOCATION = "6578278e879ad2646715ba9c"
OLD_TOKEN, NEW_TOKEN = "pit-old-9c1e77", "pit-new-4b2d55"


@pytest.fixture
def channel(make):
    channel = Channel.objects.create(
        name="HL shop",
        platform="highlevel",
        base_url="http://127.0.0.1:8101",
        credentials={"token": OLD_TOKEN},
        settings={"location_id": LOCATION},
    )
    channel.locations.set([make.location("WH1")])
    return channel


@pytest.fixture
def manager(client, make):
    sync_roles()
    client.force_login(make.user("mia", role=MANAGER))
    return client


def form(channel, **changes):
    data = {
        "name": channel.name,
        "platform": channel.platform,
        "base_url": channel.base_url,
        "mode": channel.mode,
        "setting_location_id": LOCATION,
        "buffer": channel.buffer,
        "zero_out_threshold": channel.zero_out_threshold,
        "locations": list(channel.locations.values_list("pk", flat=True)),
    }
    return {**data, **changes}


def change_url(channel):
    return reverse("admin:connectors_channel_change", args=[channel.pk])


def test_an_error_report_of_the_channel_form_shows_no_credential(manager, channel):
    response = manager.post(change_url(channel), form(channel, credential_token=NEW_TOKEN))
    assert response.status_code == 302
    # What Django's error report (mailed to ADMINS, or the debug page) would say of it.
    report = ExceptionReporter(response.wsgi_request, None, None, None).get_traceback_text()
    assert "credential_token" in report
    assert NEW_TOKEN not in report
    assert str(channel.buffer) in report  # the other fields stay readable


def test_the_history_says_who_changed_what_and_never_a_credential(manager, channel, make, caplog):
    caplog.set_level(logging.DEBUG)
    store = make.location("STORE")
    edit = form(
        channel,
        buffer=3,
        cap=50,
        locations=[*channel.locations.values_list("pk", flat=True), store.pk],
        credential_token=NEW_TOKEN,
    )
    assert manager.post(change_url(channel), edit).status_code == 302
    changelist = reverse("admin:connectors_channel_changelist")
    for action in ("pause", "resume"):
        manager.post(changelist, {"action": action, "_selected_action": [channel.pk]})

    entries = list(LogEntry.objects.filter(object_id=str(channel.pk)).order_by("pk"))
    assert [e.user.username for e in entries] == ["mia", "mia", "mia"]
    messages = [e.get_change_message() for e in entries]
    assert "Buffer: 0 → 3" in messages[0]
    assert "Cap: blank → 50" in messages[0]
    assert "Locations: WH1 → STORE, WH1" in messages[0]
    assert "credentials set: Token (values not recorded)" in messages[0]
    assert messages[1:] == [
        "Changed mode: live → paused (Pause).",
        "Changed mode: paused → live (Resume).",
    ]

    history = reverse("admin:connectors_channel_history", args=[channel.pk])
    page = manager.get(history).content.decode()
    assert "Locations: WH1 → STORE, WH1" in page
    assert "mode: live → paused (Pause)" in page
    assert "mia" in page
    for secret in (OLD_TOKEN, NEW_TOKEN):
        assert all(secret not in m for m in messages)
        assert secret not in page
        assert secret not in manager.get(change_url(channel)).content.decode()
        assert secret not in caplog.text


def test_resuming_on_new_credentials_is_in_the_history(manager, channel):
    Channel.objects.filter(pk=channel.pk).update(
        mode="paused", paused_reason="bad credentials: 401"
    )
    channel.refresh_from_db()
    manager.post(change_url(channel), form(channel, credential_token=NEW_TOKEN))
    message = LogEntry.objects.get(object_id=str(channel.pk)).get_change_message()
    assert "mode: paused → live (resumed: new credentials)" in message
    assert Channel.objects.get().mode == "live"


def test_clearing_the_credentials_is_in_the_history(manager, channel):
    manager.post(change_url(channel), form(channel, clear_credentials="on", credential_token="t2"))
    message = LogEntry.objects.get(object_id=str(channel.pk)).get_change_message()
    assert "credentials: the stored ones cleared" in message
    assert "t2" not in message


def test_a_viewer_reads_the_history(client, make, manager, channel):
    manager.post(change_url(channel), form(channel, buffer=2))
    client.logout()
    client.force_login(make.user("vera", role=VIEWER))
    history = reverse("admin:connectors_channel_history", args=[channel.pk])
    assert "Buffer: 0 → 2" in client.get(history).content.decode()

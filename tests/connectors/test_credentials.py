"""Channel credentials and tokens are encrypted at rest: no backup of the database holds them in
clear; keys rotate with `reencrypt_credentials`; rows stored before are encrypted in place."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.fields import CredentialsUnreadable, decrypt_json, encrypt_json
from connectors.models import Channel
from connectors.services.channel_io import channel_connector
from connectors.services.push import sync_channel_run

SECRET = "pit-s3cret-value-4f1d"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored(pk):
    """The columns as a backup holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials, auth_state FROM connectors_channel WHERE id = %s", [pk])
        return cursor.fetchone()


def new_channel(**kwargs):
    return Channel.objects.create(
        name=kwargs.pop("name", "Webshop"),
        platform="highlevel",
        base_url="http://127.0.0.1:1",
        settings={"location_id": "loc"},
        **kwargs,
    )


@pytest.mark.django_db
def test_credentials_and_tokens_are_stored_encrypted_and_read_back():
    channel = new_channel(credentials={"token": SECRET, "webhook_public_key": "pk"})
    Channel.objects.filter(pk=channel.pk).update(auth_state={"access_token": SECRET + "-tok"})
    for column in stored(channel.pk):
        assert SECRET not in column
        assert "token" not in column  # not even the names
    channel = Channel.objects.get()
    assert channel.credentials == {"token": SECRET, "webhook_public_key": "pk"}
    assert channel.auth_state == {"access_token": SECRET + "-tok"}


@pytest.mark.django_db
def test_a_token_a_connector_obtains_is_kept_encrypted():
    channel = new_channel(credentials={"token": "pit"})
    connector = channel_connector(channel)
    connector.auth_state.update(access_token=SECRET, expires_at=2e9)
    connector.keep_auth_state()
    assert SECRET not in stored(channel.pk)[1]
    assert Channel.objects.get().auth_state["access_token"] == SECRET


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=20),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_any_json_survives_encryption_and_a_key_rotation(value):
    with override_settings(CREDENTIALS_KEYS=[OLD]):
        token = encrypt_json(value)
    with override_settings(CREDENTIALS_KEYS=[NEW, OLD]):
        assert decrypt_json(token) == value
        rotated = encrypt_json(decrypt_json(token))
    with override_settings(CREDENTIALS_KEYS=[NEW]):
        assert decrypt_json(rotated) == value
        with pytest.raises(CredentialsUnreadable, match="cannot be decrypted with any key"):
            decrypt_json(token)


@pytest.mark.django_db
def test_reencrypt_moves_every_channel_to_the_first_key_and_names_those_it_cannot_read(capsys):
    with override_settings(CREDENTIALS_KEYS=[OLD]):
        first = new_channel(name="Webshop", credentials={"token": SECRET})
    lost = Fernet.generate_key().decode()
    with override_settings(CREDENTIALS_KEYS=[lost]):
        new_channel(name="Marketplace", credentials={"token": "x"})
    with override_settings(CREDENTIALS_KEYS=[NEW, OLD]):
        with pytest.raises(CommandError, match=r"could not be decrypted.*: Marketplace"):
            call_command("reencrypt_credentials")
        assert "1 channel encrypted with the first key" in capsys.readouterr().out
    with override_settings(CREDENTIALS_KEYS=[NEW]):  # the old key gone
        assert Channel.objects.get(pk=first.pk).credentials == {"token": SECRET}


@pytest.mark.django_db
def test_a_channel_whose_key_was_removed_still_opens_and_says_why_it_cannot_be_used(
    admin_client,
):
    lost = Fernet.generate_key().decode()
    with override_settings(CREDENTIALS_KEYS=[lost]):
        channel = new_channel(name="Marketplace", credentials={"token": SECRET})
        Channel.objects.filter(pk=channel.pk).update(auth_state={"access_token": "t"})
    before = stored(channel.pk)
    page = reverse("admin:connectors_channel_change", args=[channel.pk])
    for url in (reverse("admin:connectors_channel_changelist"), page, reverse("admin:index")):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    html = admin_client.get(page).content.decode()
    assert "cannot be decrypted with any key in CREDENTIALS_KEYS" in html
    assert "no key in CREDENTIALS_KEYS decrypts it: enter it again" in html

    # The sync cannot use it: the channel pauses, saying why; the stored value is untouched.
    report = sync_channel_run(channel.pk, "test-run")
    channel = Channel.objects.get(pk=channel.pk)
    assert channel.mode == Channel.Mode.PAUSED, report
    assert "cannot be decrypted" in channel.paused_reason
    channel.save()  # any save (a mode, a name) writes the stored credentials back as they were
    assert stored(channel.pk) == before
    with pytest.raises(CredentialsUnreadable):
        channel_connector(channel)
    with override_settings(CREDENTIALS_KEYS=[NEW, lost]):  # the key put back
        assert Channel.objects.get(pk=channel.pk).credentials == {"token": SECRET}


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_rows_already_there_and_undoes_it():
    executor = MigrationExecutor(connection)
    before = [("connectors", "0007_channel_percentage_at_most_100")]
    after = [("connectors", "0008_encrypt_credentials")]
    executor.migrate(before)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO connectors_channel (name, platform, base_url, credentials, auth_state,"
            " settings, buffer, zero_out_threshold, mode, paused_reason, allocation_order,"
            " remote_changes, webhook_token, poll_cursor, last_poll_error, last_error,"
            " consecutive_failures, created_at) VALUES ('Old', 'highlevel', 'http://x.io', %s,"
            " %s, '{}', 0, 0, 'live', '', '', 'push', 'tok-1', '{}', '', '', 0, %s)",
            [json.dumps({"token": SECRET}), json.dumps({}), "2026-01-01 00:00:00+00:00"],
        )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        credentials, _ = stored(Channel.objects.get(name="Old").pk)
        assert SECRET not in credentials
        assert Channel.objects.get(name="Old").credentials == {"token": SECRET}
        assert Channel.objects.get(name="Old").auth_state == {}
        executor = MigrationExecutor(connection)
        executor.migrate(before)  # and back: plain JSON again
        with connection.cursor() as cursor:
            cursor.execute("SELECT credentials FROM connectors_channel WHERE name = 'Old'")
            assert json.loads(cursor.fetchone()[0]) == {"token": SECRET}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

"""The project's security settings: keys that fail closed, the job queues for managers only,
and failed logins locked out for a while, through the real login page."""

import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from cryptography.fernet import Fernet
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from config.env import ConfigError, credentials_keys
from config.roles import MANAGER, VIEWER, sync_roles

BASE = Path(__file__).resolve().parent.parent.parent
PASSWORD = "pw-for-tests-1"
SECRET_KEY = "k3y-" + "x7Qz9LmP2vRt8WnB4cYh6JdF1gKs5aEu0oIiUyTrEwQ" * 2


def start(tmp_path, **env):
    """`manage.py check` in a fresh process with DEBUG off and these variables."""
    keep = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CREDENTIALS_KEYS")}
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE,
        env={
            **keep,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_without_debug_a_missing_secret_key_stops_the_app_with_a_message(tmp_path):
    code, output = start(tmp_path, CREDENTIALS_KEYS=Fernet.generate_key().decode())
    assert code != 0
    assert "configuration error: SECRET_KEY must be set when DEBUG is off" in output
    assert "Traceback" not in output


def test_without_debug_missing_credentials_keys_stop_the_app_with_a_message(tmp_path):
    code, output = start(tmp_path, SECRET_KEY=SECRET_KEY)
    assert code != 0
    assert "configuration error: CREDENTIALS_KEYS must be set when DEBUG is off" in output
    assert "Traceback" not in output
    assert not (tmp_path / "credentials.key").exists()  # no local key in production


def test_a_bad_credentials_key_is_named_by_its_place_never_echoed(tmp_path):
    good, bad = Fernet.generate_key().decode(), "not-a-key-s3cr3t"
    code, output = start(tmp_path, SECRET_KEY=SECRET_KEY, CREDENTIALS_KEYS=f"{good},{bad}")
    assert code != 0
    assert "CREDENTIALS_KEYS: key 2 of 2 is not a Fernet key" in output
    assert bad not in output
    assert "Traceback" not in output


def test_with_both_keys_set_the_app_starts(tmp_path):
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    code, output = start(tmp_path, SECRET_KEY=SECRET_KEY, CREDENTIALS_KEYS=keys)
    assert code == 0, output


def test_with_debug_on_every_process_shares_one_local_key_readable_by_its_owner(tmp_path):
    key_file = tmp_path / "var" / "credentials.key"
    first = credentials_keys(None, debug=True, key_file=key_file)
    again = credentials_keys("", debug=True, key_file=key_file)
    assert first == again
    assert len(first) == 1
    Fernet(first[0])  # a usable key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(key_file.parent.iterdir()) == [key_file]  # no draft left behind
    with pytest.raises(ConfigError, match="CREDENTIALS_KEYS must be set"):
        credentials_keys(None, debug=False, key_file=key_file)


# ---------------------------------------------------------------------------- job queues

QUEUE_PAGES = [
    "/admin/django_rq/dashboard/",
    "/admin/django_rq/dashboard/stats.json/",
    "/admin/django_rq/dashboard/metrics/",
    "/admin/django_rq/dashboard/queues/0/",
    "/admin/django_rq/dashboard/queues/0/failed/",
    "/admin/django_rq/dashboard/workers/0/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", QUEUE_PAGES)
def test_a_viewer_reaches_no_job_queue_page_json_included(client, make, url):
    sync_roles()
    client.force_login(make.user("vera", role=VIEWER))
    response = client.get(url)
    assert response.status_code == 403
    assert b"redis" not in response.content.lower()


@pytest.mark.django_db
def test_a_manager_reads_the_queue_stats_and_a_stranger_needs_the_api_token(client, make):
    sync_roles()
    stats = "/admin/django_rq/dashboard/stats.json/"
    assert client.get(stats).status_code == 401  # django-rq's own token check
    client.force_login(make.user("mia", role=MANAGER))
    response = client.get(stats)
    assert response.status_code == 200
    assert "queues" in response.json()


# ---------------------------------------------------------------------------- failed logins

LOGIN = "/admin/login/"
throttled = override_settings(
    AXES_ENABLED=True, AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(minutes=15)
)


def log_in(client, username, password=PASSWORD, address="10.0.0.1", **headers):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **headers,
    )


def logged_in(response):
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def staff(make):
    sync_roles()
    return make.user("mia", role=MANAGER), make.user("carl", role=MANAGER)


@pytest.mark.django_db
@throttled
def test_failed_logins_from_one_address_lock_it_out_for_a_while(client, staff):
    for _ in range(2):
        assert log_in(client, "mia", "wrong").status_code == 200  # the form, with its error
    assert log_in(client, "mia", "wrong").status_code == 429  # the third failure locks
    refused = log_in(client, "mia")  # the right password, too late
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert not logged_in(log_in(client, "carl"))  # another user from that address
    assert logged_in(log_in(client, "carl", address="10.0.0.2"))  # elsewhere: fine
    # A quarter of an hour after the last failure, the address may try again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert logged_in(log_in(client, "mia"))


@pytest.mark.django_db
@throttled
def test_failed_logins_for_one_user_lock_it_out_from_every_address(client, staff):
    for n in range(3):
        log_in(client, "mia", "wrong", address=f"10.0.1.{n}")
    assert log_in(client, "mia", address="10.0.2.1").status_code == 429
    assert logged_in(log_in(client, "carl", address="10.0.2.1"))


@pytest.mark.django_db
@throttled
@override_settings(LOGIN_PROXY_COUNT=1)
def test_behind_a_proxy_a_forged_forwarded_address_does_not_escape_the_lock_out(client, staff):
    for n in range(3):
        # A client writes what it likes into X-Forwarded-For; the proxy appends what it saw.
        log_in(client, f"user{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.7")
    forged = log_in(client, "carl", HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.7")
    assert forged.status_code == 429
    # Everyone else behind the same proxy still logs in.
    assert logged_in(log_in(client, "carl", HTTP_X_FORWARDED_FOR="203.0.113.5"))


@pytest.mark.django_db
@throttled
def test_a_superuser_sees_the_lock_out_and_lifts_it(client, staff, make):
    make.user("root", superuser=True)
    for _ in range(3):
        log_in(client, "mia", "wrong", address="10.0.3.1")
    assert log_in(client, "mia", address="10.0.4.1").status_code == 429
    assert logged_in(log_in(client, "root", address="10.0.9.9"))
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = client.get(changelist, {"locked_out": "yes"}).content.decode()
    assert "mia" in page
    assert "10.0.3.1" in page
    assert "wrong" not in page  # what was typed as the password is never kept
    attempts = list(AccessAttempt.objects.filter(username="mia").values_list("pk", flat=True))
    lift = {"action": "delete_selected", "_selected_action": attempts, "post": "yes"}
    assert client.post(changelist, lift).status_code == 302
    client.logout()
    assert logged_in(log_in(client, "mia", address="10.0.4.1"))


@pytest.mark.django_db
@throttled
def test_a_manager_does_not_see_the_login_attempts(client, staff):
    assert logged_in(log_in(client, "mia"))
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403

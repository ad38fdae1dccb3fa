"""What the base does once for every connector: Retry-After, settings by kind, untracked
quantities, and pacing to the channel's rate (shared between workers through Redis)."""

import email.utils
import fnmatch
import threading
import time
import tomllib
from pathlib import Path

import pytest
import redis as redis_py
import requests

from connectors import queue
from connectors.exceptions import RateLimited
from connectors.platforms import registry
from connectors.platforms.base import PushItem, Setting, parse_retry_after, refuses_credentials
from connectors.platforms.pacing import LocalStore, Pacer, RedisStore
from connectors.platforms.sandbox.serve import start_sandbox
from connectors.platforms.strategy import push
from tests.connectors.sandbox_client import Client


def answer(status=429, **headers):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


def connector(name="highlevel", **kwargs):
    hooks = registry.get(name).hooks()
    options = {"credentials": hooks.credentials(), "settings": hooks.settings(), **kwargs}
    return registry.connector_class(name)(base_url="http://127.0.0.1:1", **options)


# ---------------------------------------------------------------- Retry-After


def test_retry_after_is_read_in_seconds_and_as_an_http_date():
    now = 1_800_000_000
    in_two_minutes = email.utils.formatdate(now + 120, usegmt=True)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(in_two_minutes, now=now) == pytest.approx(120)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0
    for nonsense in ("", "soon", "-3", "inf", "Mon, 99 Foo 2026"):
        assert parse_retry_after(nonsense) is None, nonsense


@pytest.mark.parametrize(
    ("platform", "default"), [("webflow", 60), ("elasticpath", 1), ("zettle", 1)]
)
def test_a_429_waits_its_retry_after_in_either_form_else_the_platforms_default(platform, default):
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    c = connector(platform)
    assert c.retry_after(answer(**{"Retry-After": "12"})) == (12, False)
    wait, daily = c.retry_after(answer(**{"Retry-After": soon}))
    assert 28 <= wait <= 30
    assert not daily
    assert c.retry_after(answer(**{"Retry-After": "whenever"})) == (default, False)
    assert c.retry_after(answer()) == (default, False)
    assert c.retry_after(answer(**{"Retry-After": "86400"})) == (3600, True)  # a quota


# ---------------------------------------------------------------- settings by kind


@pytest.mark.parametrize(
    ("body", "credentials"),
    [
        ('{"error":"invalid_grant","error_description":"Invalid refresh token"}', True),
        ('{"statusCode":400,"message":"Invalid grant: refresh token is invalid"}', True),
        ('{"error":"invalid_client"}', True),
        ('{"error":"unsupported_grant_type"}', False),
        ('{"errors":[{"title":"Validation Error","detail":"grant_type is required"}]}', False),
        ("<html>Bad Request</html>", False),
    ],
)
def test_a_token_endpoints_400_is_bad_credentials_only_when_it_says_so(body, credentials):
    assert refuses_credentials(body) is credentials


def test_a_setting_is_checked_by_its_kind():
    count = Setting("n", "Lines", required=False, kind="int", minimum=1)
    flag = Setting("f", "Dev store", required=False, kind="bool")
    mode = Setting("m", "Login", required=False, kind="choice", choices=("POST", "GET"))
    assert [count.problem(v) for v in ("", None, "3", 3, " 7 ")] == [""] * 5
    assert count.problem("three") == "'Lines' must be a whole number"
    assert count.problem(True) == "'Lines' must be a whole number"
    assert count.problem("0") == "'Lines' must be at least 1"
    assert count.problem(str(10**20)) == "'Lines' must be at most 2,147,483,647"
    assert [flag.problem(v) for v in (True, "false", "yes", "0")] == [""] * 4
    assert flag.problem("maybe") == "'Dev store' must be true or false"
    assert mode.problem("get") == ""
    assert mode.problem("PUT") == "'Login' must be one of POST, GET"
    assert Setting("s", "Slug").problem("") == "'Slug' is required"


def test_settings_are_read_as_their_kind():
    c = connector(
        "unicommerce", settings={"batch_max": " 250 ", "auth_method": "GET", "facility_code": ""}
    )
    assert c.setting("batch_max") == 250
    assert c.capabilities.batch_max == 250
    assert c.setting("facility_code", "none") == "none"
    assert connector(
        "elasticpath", settings={"development_store": "yes"}
    ).capabilities.rate_limit == (
        25,
        1,
    )


# ---------------------------------------------------------------- untracked quantities


@pytest.mark.parametrize("platform", ["unicommerce", "elasticpath", "zettle"])
def test_platforms_without_unlimited_stock_share_one_untracked_rule(platform):
    c = connector(platform, settings={"untracked_quantity": 500})
    untracked = PushItem(key=1, remote_id="x", quantity=None)
    assert c.wire_target(untracked) == 500
    assert c.wire_target(PushItem(key=2, remote_id="y", quantity=-4)) == 0
    assert [c.shown(untracked, held) for held in (499, 500, 9999)] == [499, None, None]
    assert c.shown(PushItem(key=3, remote_id="z", quantity=7), 9999) == 9999  # tracked: a number
    problems = c.config_problems(c.credentials, {"untracked_quantity": 0})
    assert "setting 'Quantity shown for untracked variants' must be at least 1" in problems


# ---------------------------------------------------------------- pacing


def test_a_pacer_lets_nearly_a_full_bucket_go_then_spaces_the_rest():
    pacer = Pacer((10, 1), store=LocalStore())
    for _ in range(8):
        pacer.wait()
    assert pacer.waited == 0  # the documented burst, two short, goes at once
    for _ in range(3):
        pacer.wait()
    assert pacer.waited >= 0.25  # then about a tenth of a second each, a little under the rate


@pytest.mark.parametrize("shared", [False, True], ids=["in process", "through Redis"])
def test_after_a_429_requests_go_at_the_rate_not_in_a_burst(shared):
    store = RedisStore(queue.redis()) if shared else LocalStore()
    pacer = Pacer((10, 1), key=f"test-{time.time_ns()}", store=store)
    pacer.hold(0.2, drain=True)  # a 429's Retry-After: room for one request, then the rate
    for _ in range(3):
        pacer.wait()
    assert pacer.waited >= 0.2 + 2 * 0.1 - 0.02


def test_a_hold_longer_than_a_request_may_wait_refuses_before_sending():
    pacer = Pacer((10, 1), store=LocalStore(), max_wait=5)
    pacer.hold(30)
    with pytest.raises(RateLimited) as caught:
        pacer.wait()
    assert 29 < caught.value.retry_after <= 30
    assert not caught.value.daily


def test_workers_share_a_channels_pace_through_redis():
    key = f"test-{time.time_ns()}"
    first = Pacer((4, 60), key=key, store=RedisStore(queue.redis()))
    other = Pacer((4, 60), key=key, store=RedisStore(queue.redis()), max_wait=1)
    first.wait()
    first.wait()  # all the bucket of four lets go at once
    with pytest.raises(RateLimited):  # another process's pacer knows it
        other.wait()


def test_a_hold_one_worker_learned_holds_every_worker():
    key = f"test-{time.time_ns()}"
    first = Pacer((100, 1), key=key, store=RedisStore(queue.redis()))
    other = Pacer((100, 1), key=key, store=RedisStore(queue.redis()))
    first.hold(30)  # its answer said the quota is spent
    with pytest.raises(RateLimited) as caught:
        other.wait()
    assert 29 < caught.value.retry_after <= 30
    assert other.fallback is not None  # Redis answered: still shared


def test_with_redis_unreachable_a_pacer_paces_in_its_process():
    client = redis_py.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    pacer = Pacer((1, 60), key="x", store=RedisStore(client), max_wait=1)
    pacer.wait()
    with pytest.raises(RateLimited):
        pacer.wait()


@pytest.fixture
def highlevel():
    with start_sandbox("highlevel") as running:
        sandbox = Client(running)
        sandbox.control("POST", "reset")
        yield sandbox


def test_pushes_beyond_the_documented_burst_are_paced_not_refused(highlevel):
    # HighLevel: a bucket of 100 requests per 10 s, as its sandbox enforces by default.
    hooks = highlevel.hooks
    items = hooks.make_items(1)
    hooks.seed(highlevel, items, quantity=0)
    c = registry.connector_class("highlevel")(
        base_url=highlevel.url,
        credentials={"token": "pit-hl-sandbox-token"},
        settings=hooks.settings(),
    )
    started = time.monotonic()
    for n in range(115):
        assert push(c, [PushItem(**{**items[0].__dict__, "quantity": n})])[0].ok
    assert [r for r in highlevel.log() if r["status"] == 429] == []
    assert time.monotonic() - started >= 1.3  # the 15 past the bucket waited their turn


def test_a_quota_the_answers_say_is_spent_holds_the_next_request():
    with start_sandbox("webflow") as running:
        webflow = Client(running)
        webflow.control("POST", "reset")
        webflow.seed(settings={"rate_per_minute": 4})  # less than the plan the channel says
        hooks = webflow.hooks
        items = hooks.make_items(4, quantity=1)
        hooks.seed(webflow, items, quantity=0)
        c = registry.connector_class("webflow")(
            base_url=webflow.url, credentials=hooks.credentials()
        )
        assert all(o.ok for o in push(c, items[:3]))
        with pytest.raises(RateLimited) as caught:
            push(c, items[3:])
        assert caught.value.retry_after > 50  # the rest of the minute
        # The third answer left one: counted as none (another worker may be sending).
        assert [r["status"] for r in webflow.log()] == [200, 200, 200]  # no 429, no 4th try


def test_every_module_of_a_platform_package_is_held_to_plain_objects():
    """A new module in a platform package (a poller, a sandbox part) falls under the
    import-linter contract that keeps Django and the ORM out of the platforms."""

    root = Path(__file__).resolve().parents[3]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    contract = next(
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"].startswith("Connectors are plain objects")
    )
    patterns = contract["source_modules"]
    packages = [
        p for p in (root / "connectors/platforms").iterdir() if (p / "__init__.py").exists()
    ]
    modules = {
        f"connectors.platforms.{package.name}.{f.stem}"
        for package in packages
        for f in package.glob("*.py")
        if f.stem != "__init__"
    }
    # import-linter's `*` stands for one whole segment of a dotted name.
    covered = {m for m in modules if any(fnmatch.fnmatchcase(m, p) for p in patterns)}
    assert modules - covered == set()
    assert "connectors.platforms.*.*" in patterns  # a new platform's modules need no entry


def test_the_registry_is_whole_for_threads_that_ask_during_its_discovery(monkeypatch):
    """A threaded web server's first requests ask for platforms at once: none may see the
    registry half-filled (it answered "no platform named webflow" to one of 6,000 webhooks)."""
    everyone = {p.name for p in registry.platforms()}
    monkeypatch.setattr(registry, "_platforms", {})
    monkeypatch.setattr(registry, "_found", False)
    slow_import = registry.importlib.import_module

    def import_module(name, *args):
        time.sleep(0.01)  # discovery takes a while: other threads ask meanwhile
        return slow_import(name, *args)

    monkeypatch.setattr(registry.importlib, "import_module", import_module)
    barrier = threading.Barrier(8)
    errors = []

    def ask():
        barrier.wait()
        try:
            registry.get("webflow")
        except LookupError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(registry._platforms) == everyone

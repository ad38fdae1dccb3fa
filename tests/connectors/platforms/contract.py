"""The contract every connector keeps, run against its platform's sandbox over real HTTP.

PlatformCase gives a test class a reset sandbox and a connector for the class's `platform`,
driven by that platform's test hooks (connectors.platforms.testing): how to seed items, read
what the sandbox holds, and which credentials are good or bad. ConnectorContract adds the
promises the sync relies on; test_contract.py runs it for every registered platform, and a
platform's own test module subclasses PlatformCase for what is its own.
"""

import contextlib
import logging
import math

import pytest

from connectors.exceptions import AuthError, RateLimited, TransientError
from connectors.platforms import registry, strategy
from connectors.platforms.base import PushItem
from connectors.platforms.sandbox.serve import start_sandbox
from tests.connectors.sandbox_client import Client


def at(item, quantity):
    """The same item with another target."""
    return PushItem(**{**item.__dict__, "quantity": quantity})


class PlatformCase:
    platform = ""
    hooks_class = None  # default: the registered platform's hooks

    @classmethod
    def hooks(cls):
        return cls.hooks_class() if cls.hooks_class else registry.get(cls.platform).hooks()

    @property
    def connector_class(self):
        return registry.connector_class(self.platform)

    # ------------------------------------------------------------------ the hooks, as methods

    def credentials(self, sandbox=None):
        return self.hooks().credentials()

    def bad_credentials(self, sandbox=None):
        return self.hooks().bad_credentials()

    def settings(self, sandbox=None):
        return self.hooks().settings()

    def make_items(self, n, quantity=0):
        return self.hooks().make_items(n, quantity)

    def seed(self, sandbox, items, quantity, **kwargs):
        self.hooks().seed(sandbox, items, quantity, **kwargs)

    def remote_quantity(self, sandbox, item):
        return self.hooks().remote_quantity(sandbox, item)

    def unknown_item(self, key):
        return self.hooks().unknown_item(key)

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    @classmethod
    def running(cls):
        with start_sandbox(cls.platform) as running:
            yield running

    @pytest.fixture
    def sandbox(self, running):
        client = Client(running)
        client.control("POST", "reset")
        client.auth_state = {}  # kept between connectors, as the channel row keeps it
        return client

    def connector(self, sandbox, credentials=None, **kwargs):
        return self.connector_class(
            base_url=sandbox.url,
            credentials=credentials or self.credentials(),
            settings=self.settings(),
            auth_state=sandbox.auth_state,
            on_auth_change=sandbox.auth_state.update,
            **kwargs,
        )

    def push(self, connector, items):
        """What the engine does with a claim: its batches, each through the write strategy."""
        outcomes = []
        for batch in connector.batches(items):
            outcomes += strategy.push(connector, batch)
        return outcomes

    def writes(self, connector):
        return [e for e in connector.exchanges if e.purpose == "write"]

    def primed(self, sandbox, *, quantity=5, held=0, timeout=None, **switches):
        """One item holding `held`, to be pushed to `quantity` by an authenticated connector,
        with the sandbox's failure `switches` set: (connector, [item])."""
        items = self.make_items(1, quantity=quantity)
        self.seed(sandbox, items, quantity=held)
        connector = self.connector(sandbox, **({"timeout": timeout} if timeout else {}))
        connector.authenticate()
        sandbox.fail(**switches)
        return connector, items


class ConnectorContract(PlatformCase):
    def test_pushes_land_and_the_channel_shows_the_targets(self, sandbox):
        items = self.make_items(4)
        self.seed(sandbox, items, quantity=3)
        targets = [0, 1, 7, 40]
        items = [at(i, q) for i, q in zip(items, targets, strict=True)]

        outcomes = self.push(self.connector(sandbox), items)

        assert [(o.key, o.ok) for o in outcomes] == [(i.key, True) for i in items]
        assert [o.quantity for o in outcomes] == targets
        assert [self.remote_quantity(sandbox, i) for i in items] == targets

    def test_a_batch_larger_than_the_platform_maximum_is_split(self, sandbox):
        connector = self.connector(sandbox)
        size = connector.capabilities.batch_max
        n = size * 2 + 1 if size < 50 else size + 1
        items = self.make_items(n, quantity=2)
        self.seed(sandbox, items, quantity=0)

        outcomes = self.push(connector, items)

        assert all(o.ok for o in outcomes)
        assert len(self.writes(connector)) == math.ceil(n / size)
        assert {self.remote_quantity(sandbox, i) for i in items} == {2}

    def test_bad_credentials_raise_an_auth_error(self, sandbox):
        items = self.make_items(1, quantity=4)
        self.seed(sandbox, items, quantity=1)
        with pytest.raises(AuthError):
            self.push(self.connector(sandbox, credentials=self.bad_credentials()), items)
        assert self.remote_quantity(sandbox, items[0]) == 1

    def test_an_expired_token_is_renewed_or_reported(self, sandbox):
        items = self.make_items(1, quantity=6)
        self.seed(sandbox, items, quantity=1)
        connector = self.connector(sandbox)
        self.push(connector, items)
        sandbox.control("POST", "expire-tokens")
        items = [at(items[0], 9)]
        if not self.hooks().renews_tokens:
            with pytest.raises(AuthError):
                self.push(connector, items)
            return
        self.push(connector, items)
        assert self.remote_quantity(sandbox, items[0]) == 9

    def test_429_is_rate_limited_with_the_wait_the_channel_asked(self, sandbox):
        connector, items = self.primed(sandbox, rate_limit_next=1)
        with pytest.raises(RateLimited) as caught:
            self.push(connector, items)
        assert caught.value.retry_after >= 1
        assert self.remote_quantity(sandbox, items[0]) == 0

    def test_after_a_429_nothing_is_sent_until_the_wait_is_over(self, sandbox):
        connector, items = self.primed(sandbox, rate_limit_next=1)
        with pytest.raises(RateLimited) as caught:
            self.push(connector, items)
        refused = sandbox.log()[-1]
        try:
            self.push(connector, items)
        except RateLimited:  # a long wait: refused before anything is sent
            assert sandbox.log()[-1]["seq"] == refused["seq"]
        else:  # a short one: slept, then sent
            resent = next(r for r in sandbox.log() if r["seq"] > refused["seq"])
            assert resent["time"] - refused["time"] >= caught.value.retry_after - 0.05
            assert self.remote_quantity(sandbox, items[0]) == 5

    @pytest.mark.parametrize(
        "switch", [{"error_next": 1}, {"drop_next": 1}], ids=["5xx", "dropped connection"]
    )
    def test_server_errors_and_dropped_connections_are_transient(self, sandbox, switch):
        connector, items = self.primed(sandbox, **switch)
        with pytest.raises(TransientError):
            self.push(connector, items)

    @pytest.mark.parametrize(
        ("switch", "error"),
        [
            ({"error_next": 1, "error_statuses": [503]}, TransientError),
            ({"drop_next": 1}, TransientError),
            ({"rate_limit_next": 1}, RateLimited),
        ],
        ids=["503", "dropped connection", "429"],
    )
    def test_a_failing_token_endpoint_is_not_bad_credentials(self, sandbox, switch, error):
        items = self.make_items(1, quantity=5)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)  # no token yet: its first request asks for one
        if not connector.uses_token:
            pytest.skip(f"{self.platform} sends a static token")
        sandbox.fail(include_auth=True, **switch)
        with pytest.raises(error):
            self.push(connector, items)
        assert [e.purpose for e in connector.exchanges] == ["auth"]
        self.push(self.connector(sandbox), items)  # it answers again: the same credentials do
        assert self.remote_quantity(sandbox, items[0]) == 5

    def test_a_timeout_is_transient(self, sandbox):
        connector, items = self.primed(sandbox, timeout=(1, 0.5), timeout_next=1, timeout_seconds=2)
        with pytest.raises(TransientError):
            self.push(connector, items)

    def test_a_partial_failure_marks_exactly_the_failed_items(self, sandbox):
        items = self.make_items(3, quantity=8)
        self.seed(sandbox, items, quantity=1)
        stranger = self.unknown_item(key=99)
        batch = [items[0], stranger, items[1], items[2]]

        outcomes = {o.key: o for o in self.push(self.connector(sandbox), batch)}

        assert not outcomes[99].ok
        assert not outcomes[99].retry
        assert outcomes[99].message
        assert all(outcomes[i.key].ok for i in items)
        assert [self.remote_quantity(sandbox, i) for i in items] == [8, 8, 8]

    def test_a_write_whose_answer_was_lost_is_not_applied_twice(self, sandbox):
        connector, items = self.primed(sandbox, quantity=8, held=5, drop_after_apply_next=1)
        with pytest.raises(TransientError):
            self.push(connector, items)
        # The sync retries the same target; the channel must end at 8, not 8 + 3.
        self.push(self.connector(sandbox), items)
        assert self.remote_quantity(sandbox, items[0]) == 8

    def test_untracked_items_are_shown_as_unlimited_and_read_back_so(self, sandbox):
        items = self.make_items(2)
        self.seed(sandbox, items, quantity=3)
        connector = self.connector(sandbox)
        untracked = at(items[0], None)

        [outcome] = self.push(connector, [untracked])

        assert outcome.ok
        assert outcome.quantity is None
        if connector.capabilities.reads_levels:
            assert connector.read_levels([untracked, items[1]]) == {1: None, 2: 3}

    def test_reads_report_what_the_channel_shows(self, sandbox):
        connector = self.connector(sandbox)
        if not connector.capabilities.reads_levels:
            pytest.skip(f"{self.platform} cannot read levels")
        items = self.make_items(3)
        self.seed(sandbox, items, quantity=11)
        levels = connector.read_levels(items)
        assert levels == {i.key: 11 for i in items}

    def test_items_already_at_their_target_are_not_written_where_reads_come_first(self, sandbox):
        connector = self.connector(sandbox)
        if not connector.capabilities.reads_first:
            pytest.skip(f"{self.platform} writes the target without reading")
        items = self.make_items(3, quantity=4)
        self.seed(sandbox, items, quantity=4)
        outcomes = self.push(connector, items)
        assert [(o.ok, o.quantity) for o in outcomes] == [(True, 4)] * 3
        assert self.writes(connector) == []

    def test_secrets_never_reach_exchanges_or_logs(self, sandbox, caplog):
        caplog.set_level(logging.DEBUG)
        items = self.make_items(2, quantity=3)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        self.push(connector, items)
        sandbox.control("POST", "expire-tokens")
        with contextlib.suppress(AuthError):  # renews, or reports the expiry
            self.push(connector, items)
        secrets = {v for v in self.credentials().values() if isinstance(v, str)}
        secrets |= {v for v in connector.auth_state.values() if isinstance(v, str)}
        stored = " ".join(
            f"{e.url} {e.request_headers} {e.request_body} {e.response_body} {e.error}"
            for e in connector.exchanges
        )
        leaks = [s for s in secrets if len(s) >= 4 and (s in stored or s in caplog.text)]
        assert leaks == []

"""The contract every connector keeps, run against its platform's sandbox over real HTTP.

A platform's test module subclasses ConnectorContract and fills in the hooks at the top:
how to seed items in the sandbox, read what it holds, make one item fail, and which
credentials are good or bad. Each test states one promise the sync relies on.
"""

import contextlib
import logging
import math

import pytest

from connectors.exceptions import AuthError, RateLimited, TransientError
from connectors.platforms.base import PushItem
from connectors.sandboxes import start_sandbox
from tests.connectors.sandbox_client import Client


class ConnectorContract:
    platform = ""
    connector_class = None
    renews_tokens = True  # False: a static token, whose expiry is an AuthError

    # ------------------------------------------------------------------ hooks

    def credentials(self, sandbox):
        raise NotImplementedError

    def bad_credentials(self, sandbox):
        raise NotImplementedError

    def settings(self, sandbox):
        return {}

    def make_items(self, n, quantity=0):
        """PushItems for n remote items (keys 1..n)."""
        raise NotImplementedError

    def seed(self, sandbox, items, quantity):
        """Create the items in the sandbox, each holding `quantity`."""
        raise NotImplementedError

    def remote_quantity(self, sandbox, item):
        """What the sandbox holds for the item (None: infinite / keep selling)."""
        raise NotImplementedError

    def unknown_item(self, key):
        """A PushItem the channel does not know (its push must be refused)."""
        return PushItem(key=key, remote_id=f"unknown-{key}", remote_parent_id="", quantity=1)

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
            credentials=credentials or self.credentials(sandbox),
            settings=self.settings(sandbox),
            auth_state=sandbox.auth_state,
            on_auth_change=sandbox.auth_state.update,
            **kwargs,
        )

    def push(self, connector, items):
        outcomes = []
        for batch in connector.batches(items):
            outcomes += connector.push_batch(batch)
        return outcomes

    def writes(self, connector):
        return [e for e in connector.exchanges if e.purpose == "write"]

    # ------------------------------------------------------------------ the promises

    def test_pushes_land_and_the_channel_shows_the_targets(self, sandbox):
        items = self.make_items(4)
        self.seed(sandbox, items, quantity=3)
        targets = [0, 1, 7, 40]
        items = [
            PushItem(**{**i.__dict__, "quantity": q}) for i, q in zip(items, targets, strict=True)
        ]

        outcomes = self.push(self.connector(sandbox), items)

        assert [(o.key, o.ok) for o in outcomes] == [(i.key, True) for i in items]
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
            self.push(self.connector(sandbox, credentials=self.bad_credentials(sandbox)), items)
        assert self.remote_quantity(sandbox, items[0]) == 1

    def test_an_expired_token_is_renewed_or_reported(self, sandbox):
        items = self.make_items(1, quantity=6)
        self.seed(sandbox, items, quantity=1)
        connector = self.connector(sandbox)
        self.push(connector, items)
        sandbox.control("POST", "expire-tokens")
        items = [PushItem(**{**items[0].__dict__, "quantity": 9})]
        if not self.renews_tokens:
            with pytest.raises(AuthError):
                self.push(connector, items)
            return
        self.push(connector, items)
        assert self.remote_quantity(sandbox, items[0]) == 9

    def test_429_is_rate_limited_with_the_wait_the_channel_asked(self, sandbox):
        items = self.make_items(1, quantity=5)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(rate_limit_next=1)
        with pytest.raises(RateLimited) as caught:
            self.push(connector, items)
        assert caught.value.retry_after >= 1

    @pytest.mark.parametrize(
        "switch", [{"error_next": 1}, {"drop_next": 1}], ids=["5xx", "dropped connection"]
    )
    def test_server_errors_and_dropped_connections_are_transient(self, sandbox, switch):
        items = self.make_items(1, quantity=5)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(**switch)
        with pytest.raises(TransientError):
            self.push(connector, items)

    def test_a_timeout_is_transient(self, sandbox):
        items = self.make_items(1, quantity=5)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox, timeout=(1, 0.5))
        connector.authenticate()
        sandbox.fail(timeout_next=1, timeout_seconds=2)
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
        items = self.make_items(1, quantity=8)
        self.seed(sandbox, items, quantity=5)
        connector = self.connector(sandbox)
        connector.authenticate()
        sandbox.fail(drop_after_apply_next=1)
        with pytest.raises(TransientError):
            self.push(connector, items)
        # The sync retries the same target; the channel must end at 8, not 8 + 3.
        self.push(self.connector(sandbox), items)
        assert self.remote_quantity(sandbox, items[0]) == 8

    def test_reads_report_what_the_channel_shows(self, sandbox):
        connector = self.connector(sandbox)
        if not connector.capabilities.reads_levels:
            pytest.skip(f"{self.platform} cannot read levels")
        items = self.make_items(3)
        self.seed(sandbox, items, quantity=11)
        levels = connector.read_levels(items)
        assert levels == {i.key: 11 for i in items}

    def test_secrets_never_reach_exchanges_or_logs(self, sandbox, caplog):
        caplog.set_level(logging.DEBUG)
        items = self.make_items(2, quantity=3)
        self.seed(sandbox, items, quantity=0)
        connector = self.connector(sandbox)
        self.push(connector, items)
        sandbox.control("POST", "expire-tokens")
        with contextlib.suppress(AuthError):  # renews, or reports the expiry
            self.push(connector, items)
        secrets = {v for v in self.credentials(sandbox).values() if isinstance(v, str)}
        secrets |= {v for v in connector.auth_state.values() if isinstance(v, str)}
        stored = " ".join(
            f"{e.url} {e.request_headers} {e.request_body} {e.response_body} {e.error}"
            for e in connector.exchanges
        )
        leaks = [s for s in secrets if len(s) >= 4 and (s in stored or s in caplog.text)]
        assert leaks == []

"""The sandboxes' webhook outbox: a delivery still in flight when a test resets its sandbox
belongs to the state before, and never shows in the next test's delivery log."""

import time

from connectors.platforms.sandbox.webhooks import Outbox
from tests.connectors.webhook_receiver import Receiver


def unsigned(body, secret):
    return {}


def logged(outbox, count, timeout=10):
    deadline = time.monotonic() + timeout
    while len(outbox.to_json()["deliveries"]) < count:
        assert time.monotonic() < deadline, outbox.to_json()
        time.sleep(0.02)
    return outbox.to_json()


def test_a_delivery_in_flight_across_a_reset_is_not_logged_after_it():
    outbox = Outbox()
    with Receiver() as receiver:
        receiver.answering.clear()
        outbox.send(receiver.url, "before", b"{}", unsigned, "")
        receiver.wait_for(1)  # on its way, unanswered
        outbox.reset()
        receiver.answering.set()
        outbox.send(receiver.url, "after", b"{}", unsigned, "")
        state = logged(outbox, 1)  # one thread: "before" came back first
        receiver.wait_for(2)
    assert [d["topic"] for d in state["deliveries"]] == ["after"]
    assert state["waiting"] == 0

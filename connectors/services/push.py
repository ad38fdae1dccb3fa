"""The push engine: claim a channel's pending listings, compute each target at run time, push
what differs through the connector's write strategy, and record what happened, losing nothing.

Safe to run twice and concurrently with itself: a listing is claimed by one run at a time
(claims expire, so a killed worker's listings are taken up again), and a run clears a
listing's pending mark only if no stock change arrived since it claimed it (listing_state).
How each batch is written (the target itself, a delta from a fresh read, a compare-and-set)
is chosen from the connector's capabilities by connectors.platforms.strategy.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import listing_state
from connectors.exceptions import (
    AuthError,
    ChannelError,
    ConfigError,
    ConnectorError,
    RateLimited,
    TransientError,
)
from connectors.models import Channel, Listing, PushRecord
from connectors.platforms import strategy
from connectors.platforms.base import COMPARE_AND_SET
from connectors.quantities import targets_for
from connectors.services.channel_io import (
    channel_connector,
    channel_failed_transiently,
    channel_healthy,
    channel_note_error,
    channel_pause_for,
    push_items,
    store_exchanges,
)
from connectors.services.inbound import channel_take_in

FRESH = 2.0  # seconds of sending a group's targets may serve before they are read again


def conf(name):
    return settings.SYNC[name]


@dataclass
class RunReport:
    pushed: int = 0
    failed: int = 0
    unchanged: int = 0
    retry_in: float | None = None  # seconds until pending listings may be tried again
    more: bool = False  # claimable listings remain (the time budget ran out)
    stopped: str = ""  # why the run stopped early (paused, circuit open, ...)


def sync_channel_run(channel_id, worker_id, budget=None):
    """Push a channel's pending listings until none is claimable or the time budget is spent."""
    # Its locations once per run (targets are read per group of batches, below).
    channel = Channel.objects.prefetch_related("locations").get(pk=channel_id)
    report = RunReport()
    now = timezone.now()
    if channel.mode == Channel.Mode.PAUSED:
        _record_paused(channel)
        report.stopped = "paused"
        return report
    if channel.circuit_open_until and channel.circuit_open_until > now:
        report.retry_in = (channel.circuit_open_until - now).total_seconds()
        report.stopped = "circuit open"
        return report
    try:
        connector = channel_connector(channel)
    except (ConfigError, LookupError) as exc:  # stored settings the platform's check refuses
        report.stopped = _refused_settings(channel, exc)
        return report
    # What the channel told us comes first: a sale it reported and we have not applied would
    # be put back by a push of our older number (an absolute write overwrites it).
    channel_take_in(channel)
    probing = channel.circuit_open_until is not None
    budget = budget or conf("RUN_BUDGET")
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        limit = conf("PROBE_SIZE") if probing else claim_size(connector, budget)
        listings = listing_state.claim(channel, worker_id, limit)
        if not listings:
            break
        stop = _process(channel, connector, worker_id, listings, report)
        if stop:
            report.stopped = stop
            break
        if not probing and len(listings) < limit:
            # That was all there was. Listings changed since asked for the next job when
            # they changed: let them gather into full batches instead of pushing a few now.
            report.more = listing_state.claimable(channel)
            break
        probing = False
    else:
        report.more = True
    waiting = not report.stopped or report.stopped in ("transient", "rate limited")
    if waiting and report.retry_in is None:
        report.retry_in = listing_state.next_try_in(channel)
    return report


def claim_size(connector, budget):
    """Listings to claim at once: no more than the channel's rate lets a run send within its
    budget (Webflow's 60 a minute is 60 listings a minute), so claims do not sit waiting."""
    requests, per = connector.capabilities.rate_limit
    sendable = int(requests / per * budget) * connector.capabilities.batch_max
    return max(1, min(conf("CLAIM_CHUNK"), sendable))


def burst_hold(channel_id, rate):
    """Seconds the channel's push should wait for a burst of changes to end (0: push now).

    A burst is more than BURST_RATE separate stock changes a second for the channel: pushed
    as they come, each listing would be sent once per change, every request spent on a
    quantity about to change again. Waiting for the burst to pass sends each listing once.
    The wait never exceeds BURST_HOLD from the oldest pending change, however long the burst.
    """
    if conf("BURST_RATE") <= 0 or conf("BURST_HOLD") <= 0 or rate <= conf("BURST_RATE"):
        return 0
    now = timezone.now()
    oldest = (
        Listing.objects.filter(channel_id=channel_id)
        .pending()
        .due(now)
        .exclude(channel__mode=Channel.Mode.PAUSED)
        .order_by("pending_since")
        .values_list("pending_since", flat=True)
        .first()
    )
    if oldest is None:
        return 0
    waited = (now - oldest).total_seconds()
    if waited >= conf("BURST_HOLD"):
        return 0
    return min(1.0, conf("BURST_HOLD") - waited)


# --------------------------------------------------------------------------- one claim


def _process(channel, connector, worker_id, listings, report):
    """Push one claim's listings, a group of batches at a time; return why to stop, or ""
    to go on.

    Each group's targets are read right before it is sent: at a channel's rate a claim may
    take minutes to send (Webflow's 60 a minute), and a target read at its start would be
    stale by its end, sent once wrong and then again."""
    if channel.mode == Channel.Mode.SHADOW:  # compares everything, writes nothing
        targets = targets_for(channel, [listing.variant for listing in listings])
        items = push_items(listings, targets)
        return _shadow(channel, connector, items, {item.key: item for item in items}, worker_id)
    cas = connector.capabilities.writes == COMPARE_AND_SET
    # Items read first carry what the channel last confirmed, so a level found moved since
    # is noticed (moved(), below).
    expect = cas or connector.capabilities.reads_first
    groups = _groups(connector, listings)
    by_pk = {listing.pk: listing for listing in listings}
    kept = {"at": time.monotonic()}

    def still_ours(keys):
        """Before each write request: the listings this run still claims (a claim that
        expired may be another run's now: that run sends them, not this one), marked as
        sent with no answer yet (listing_state.sending). The rest of the run's claims are
        renewed each CLAIM_TTL / 2."""
        if time.monotonic() - kept["at"] >= conf("CLAIM_TTL") / 2:
            kept["at"] = time.monotonic()
            listing_state.keep_claims(worker_id)
        return listing_state.sending(keys, worker_id)

    def moved(items):
        """The channel's level moved since it last confirmed it: perhaps a sale we have not
        heard of. Take in its deliveries and orders first, then send the targets as they are
        now: a delta from a level that already counts the sale must not undo it."""
        channel_take_in(channel, poll=True)
        variants = [by_pk[item.key].variant for item in items]
        fresh = targets_for(channel, variants)
        return {item.key: fresh[by_pk[item.key].variant_id].quantity for item in items}

    for index, group in enumerate(groups):
        targets = targets_for(channel, [listing.variant for listing in group])
        todo = _not_in_step(group, targets, worker_id, report)
        if not todo:
            continue
        items = push_items(todo, targets, expect=expect)
        by_key = {item.key: item for item in items}
        attempts = {listing.pk: listing.attempts for listing in todo}
        batches = connector.batches(items)
        for number, batch in enumerate(batches):
            stored = len(connector.exchanges)
            try:
                outcomes = strategy.push(connector, batch, still_ours=still_ours, moved=moved)
            except ConnectorError as exc:
                store_exchanges(channel, connector.exchanges[stored:], by_key, attempts)
                _apply(exc.outcomes, worker_id, report)
                decided = {o.key for o in exc.outcomes}
                keys = [i.key for i in batch if i.key not in decided]
                rest = [i.key for b in batches[number + 1 :] for i in b]
                rest += [listing.pk for g in groups[index + 1 :] for listing in g]
                return _failed(channel, exc, keys, rest, worker_id, report)
            store_exchanges(channel, connector.exchanges[stored:], by_key, attempts)
            _apply(outcomes, worker_id, report)
            channel_healthy(channel)  # it answered: refusals of items are not its health
    return ""


def _groups(connector, listings):
    """The listings in groups whose targets are read together: as many as go out in about
    FRESH seconds at the channel's pace, at least one write request's worth (all of them,
    unpaced)."""
    interval = connector.pacer.interval
    size = connector.capabilities.batch_max
    if not interval:
        return [listings]
    size = max(size, int(FRESH / interval) * size)
    return [listings[i : i + size] for i in range(0, len(listings), size)]


def _not_in_step(listings, targets, worker_id, report):
    """The listings to send. One whose channel already shows its target (the changes since
    its last push cancelled out) is done without a request. What it shows is what it last
    confirmed; a write that failed or whose answer was lost, and every push asked for by
    staff, forget that."""
    todo, unchanged = [], []
    for listing in listings:
        quantity = targets[listing.variant_id].quantity
        confirmed = listing.confirmed_at is not None and listing.confirmed_quantity == quantity
        (unchanged if confirmed else todo).append(listing)
    listing_state.in_step([listing.pk for listing in unchanged], worker_id)
    report.unchanged += len(unchanged)
    return todo


def _apply(outcomes, worker_id, report):
    done = {o.key: o.quantity for o in outcomes if o.ok}
    refused = {o.key: o.message for o in outcomes if not o.ok and not o.retry}
    unknown = {o.key: o.message or "no answer" for o in outcomes if not o.ok and o.retry}
    if done:
        listing_state.confirm(done, worker_id)
    if refused:
        listing_state.reject(refused, worker_id)
    if unknown:  # not applied (or not known to be), not the item's fault: after a backoff
        report.failed += listing_state.retry_later(unknown, worker_id)
    report.pushed += len(done)
    report.failed += len(refused)


def _failed(channel, exc, keys, rest, worker_id, report):
    """The batch `keys` failed as a whole; `rest` was never tried. Decide what happens next."""
    with transaction.atomic():
        listing_state.release(rest, worker_id)
        if isinstance(exc, RateLimited):  # answered (a 429) or held back by our pacing
            listing_state.release(keys, worker_id, answered=True)
            report.retry_in = exc.retry_after
            if not exc.paced:  # waiting our turn is no error; a 429 is the channel's word
                channel_note_error(channel, exc)
            return "rate limited"
        if isinstance(exc, TransientError):
            report.failed += listing_state.retry_later(
                dict.fromkeys(keys, str(exc)), worker_id, unanswered=exc.maybe_applied
            )
            opened = channel_failed_transiently(
                channel,
                threshold=conf("CIRCUIT_THRESHOLD"),
                cooldown=conf("CIRCUIT_COOLDOWN"),
            )
            if opened is not None:
                report.retry_in = opened
            channel_note_error(channel, exc)
            return "transient"
        # Bad credentials or a channel-wide refusal: a person must act; keep everything pending.
        listing_state.release(keys, worker_id, answered=True)
        reason = "bad credentials" if isinstance(exc, AuthError) else "channel refused"
        if isinstance(exc, ConfigError | ChannelError | AuthError):
            channel_pause_for(channel, f"{reason}: {exc}")
        return "paused"


def _refused_settings(channel, exc):
    """The stored settings or credentials fail the platform's check (or its platform is gone):
    a shadow channel, only being tried, says so and stays in shadow; a live one pauses."""
    if channel.mode == Channel.Mode.SHADOW:
        channel_note_error(channel, exc if isinstance(exc, ConnectorError) else ConfigError(exc))
        return "shadow settings refused"
    if isinstance(exc, LookupError):
        channel_pause_for(channel, f"platform not installed: {exc}")
    else:
        channel_pause_for(channel, f"bad credentials or settings: {exc}")
    return "paused"


# --------------------------------------------------------------------------- paused and shadow


def _record_paused(channel):
    """A paused channel sends nothing but keeps a record of what it would have sent."""
    listings = list(
        Listing.objects.filter(channel=channel)
        .pending()
        .select_related("variant")
        .order_by("pk")[: conf("CLAIM_CHUNK")]
    )
    if not listings:
        return
    items = push_items(listings, targets_for(channel, [listing.variant for listing in listings]))
    PushRecord.objects.create(
        channel=channel,
        purpose="write",
        method="-",
        url="(paused: not sent)",
        outcome=PushRecord.Outcome.RECORDED,
        items=[
            {"key": i.key, "sku": i.sku, "quantity": i.quantity, "ledger_entry": i.ledger_entry}
            for i in items
        ],
        ledger_entry_id=max((i.ledger_entry for i in items if i.ledger_entry), default=None),
        error=f"paused: {channel.paused_reason or 'by staff'}",
    )


def _shadow(channel, connector, items, by_key, worker_id):
    """Compare with what the channel holds; record it; never write."""
    shows = {}
    stored = len(connector.exchanges)
    try:
        if connector.capabilities.reads_levels:
            shows = connector.read_levels(items)
    except ConnectorError as exc:
        store_exchanges(channel, connector.exchanges[stored:], by_key)
        listing_state.release(by_key, worker_id)
        channel_note_error(channel, exc)
        return "shadow read failed"
    store_exchanges(channel, connector.exchanges[stored:], by_key)
    compared = [
        {
            "key": i.key,
            "sku": i.sku,
            "quantity": i.quantity,
            "ledger_entry": i.ledger_entry,
            "channel_shows": shows.get(i.key),
            "matches": shows.get(i.key) == i.quantity,
        }
        for i in items
    ]
    PushRecord.objects.create(
        channel=channel,
        purpose="write",
        method="-",
        url="(shadow: compared, not sent)",
        outcome=PushRecord.Outcome.RECORDED,
        items=compared,
    )
    listing_state.observed(shows, list(by_key), worker_id)
    return ""

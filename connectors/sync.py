"""The push engine: claim a channel's pending listings, compute each target at run time, push
what differs through the connector, and record what happened, with nothing lost.

Safe to run twice and concurrently with itself: a listing is claimed by one run at a time
(claims expire, so a killed worker's listings are taken up again), and a run clears a
listing's pending mark only if no stock change arrived since it claimed it (change_seq).
"""

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.exceptions import (
    AuthError,
    ChannelError,
    ConfigError,
    ConnectorError,
    RateLimited,
    TransientError,
)
from connectors.models import Channel, Listing, PushRecord
from connectors.quantities import last_ledger_entry, targets_for
from connectors.services import channel_connector, push_items, store_exchanges


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
    channel = Channel.objects.get(pk=channel_id)
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
    probing = channel.circuit_open_until is not None
    deadline = time.monotonic() + (budget or conf("RUN_BUDGET"))
    while time.monotonic() < deadline:
        limit = conf("PROBE_SIZE") if probing else conf("CLAIM_CHUNK")
        listings = claim(channel, worker_id, limit=limit)
        if not listings:
            break
        stop = _process(channel, listings, report)
        if stop:
            report.stopped = stop
            break
        if not probing and len(listings) < limit:
            # That was all there was. Listings changed since asked for the next job when
            # they changed: let them gather into full batches instead of pushing a few now.
            report.more = _claimable(channel)
            break
        probing = False
    else:
        report.more = True
    if not report.stopped or report.stopped == "transient":
        report.retry_in = _next_retry(channel) if report.retry_in is None else report.retry_in
    return report


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
        Listing.objects.filter(channel_id=channel_id, pending_since__isnull=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
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


# --------------------------------------------------------------------------- claims


def _claimable(channel):
    now = timezone.now()
    return (
        Listing.objects.filter(channel=channel, pending_since__isnull=False, claimed_by="")
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exists()
    )


def claim(channel, worker_id, limit=None):
    """Take up to `limit` claimable pending listings of the channel for this worker."""
    now = timezone.now()
    expired = now - timedelta(seconds=conf("CLAIM_TTL"))
    with transaction.atomic():
        candidates = (
            Listing.objects.filter(channel=channel, pending_since__isnull=False)
            .filter(Q(claimed_by="") | Q(claimed_at__lt=expired))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("pending_since", "pk")
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("pk", flat=True)[: limit or conf("CLAIM_CHUNK")])
        Listing.objects.filter(pk__in=ids).update(
            claimed_by=worker_id, claimed_at=now, claimed_seq=F("change_seq")
        )
    return list(
        Listing.objects.filter(pk__in=ids, claimed_by=worker_id)
        .select_related("variant")
        .order_by("pk")
    )


def _release(ids, **changes):
    """Give listings back (still pending unless `changes` say otherwise)."""
    Listing.objects.filter(pk__in=ids).update(claimed_by="", claimed_at=None, **changes)


def _clear_pending_if_unchanged(ids, **changes):
    """Done with these: no longer pending (and `changes`), unless a stock change arrived since
    the claim."""
    Listing.objects.filter(pk__in=ids, change_seq=F("claimed_seq")).update(
        pending_since=None, **changes
    )


# --------------------------------------------------------------------------- one claim


def _process(channel, listings, report):
    """Push one claim's listings; return why to stop, or "" to go on."""
    variants = [listing.variant for listing in listings]
    targets = targets_for(channel, variants)
    ledger_entry = last_ledger_entry(channel, [v.pk for v in variants])
    todo, unchanged = [], []
    shadow = channel.mode == Channel.Mode.SHADOW
    for listing in listings:
        quantity = targets[listing.variant_id].quantity
        # The channel already shows the target (the changes since its last push cancelled
        # out): nothing to send. What it shows is what it last confirmed; a write that failed
        # or whose answer was lost, and every push asked for by staff, forget that. A shadow
        # channel compares every time: someone else writes to it.
        in_step = (
            not shadow
            and listing.confirmed_at is not None
            and listing.confirmed_quantity == quantity
        )
        (unchanged if in_step else todo).append(listing)
    with transaction.atomic():
        ids = [listing.pk for listing in unchanged]
        _clear_pending_if_unchanged(
            ids, status=Listing.Status.OK, last_error="", attempts=0, next_attempt_at=None
        )
        _release(ids)
    report.unchanged += len(unchanged)
    if not todo:
        return ""
    try:
        connector = channel_connector(channel)
    except ConfigError as exc:  # the stored settings or credentials fail the platform's check
        _release([listing.pk for listing in todo])
        if shadow:  # only being tried: say so, keep it in shadow
            _note(channel, exc)
            return "shadow settings refused"
        _pause(channel, f"bad credentials or settings: {exc}")
        return "paused"
    items = push_items(todo, targets)
    if channel.mode == Channel.Mode.SHADOW:
        return _shadow(channel, connector, todo, items)
    by_key = {listing.pk: listing for listing in todo}
    batches = connector.batches(items)
    for index, batch in enumerate(batches):
        keys = [item.key for item in batch]
        Listing.objects.filter(pk__in=keys).update(claimed_at=timezone.now())  # still ours
        stored = len(connector.exchanges)
        try:
            outcomes = connector.push_batch(batch)
        except ConnectorError as exc:
            store_exchanges(channel, connector.exchanges[stored:], by_key, ledger_entry)
            rest = [i.key for b in batches[index + 1 :] for i in b]
            return _failed(channel, exc, keys, rest, report)
        store_exchanges(channel, connector.exchanges[stored:], by_key, ledger_entry)
        _apply(outcomes, report)
        _healthy(channel)
    return ""


def _apply(outcomes, report):
    now = timezone.now()
    done, failed, retry = [], [], []
    for outcome in outcomes:
        if outcome.ok:
            done.append(outcome)
        elif outcome.retry:
            retry.append(outcome.key)
        else:
            failed.append(outcome)
    with transaction.atomic():
        for outcome in done:
            Listing.objects.filter(pk=outcome.key).update(
                confirmed_quantity=outcome.quantity,
                confirmed_at=now,
                status=Listing.Status.OK,
                last_error="",
                attempts=0,
                next_attempt_at=None,
            )
        for outcome in failed:  # the channel may show anything now: never skip it as in step
            Listing.objects.filter(pk=outcome.key).update(
                status=Listing.Status.FAILED, last_error=outcome.message[:2000], confirmed_at=None
            )
        Listing.objects.filter(pk__in=retry).update(confirmed_at=None)
        _clear_pending_if_unchanged([o.key for o in done + failed])
        _release([o.key for o in done + failed] + retry)
    report.pushed += len(done)
    report.failed += len(failed)


def _failed(channel, exc, keys, rest, report):
    """The batch `keys` failed as a whole; `rest` was never tried. Decide what happens next."""
    now = timezone.now()
    with transaction.atomic():
        _release(rest)
        if isinstance(exc, RateLimited):
            _release(keys)
            report.retry_in = exc.retry_after
            _note(channel, exc)
            return "rate limited"
        if isinstance(exc, TransientError):
            return _transient(channel, exc, keys, now, report)
        # Bad credentials or a channel-wide refusal: a person must act; keep everything pending.
        _release(keys)
        reason = "bad credentials" if isinstance(exc, AuthError) else "channel refused"
        if isinstance(exc, ConfigError | ChannelError | AuthError):
            _pause(channel, f"{reason}: {exc}")
        return "paused"


def _transient(channel, exc, keys, now, report):
    listings = list(Listing.objects.filter(pk__in=keys).values_list("pk", "attempts"))
    give_up = [pk for pk, attempts in listings if attempts + 1 >= conf("MAX_ATTEMPTS")]
    retry = [(pk, attempts + 1) for pk, attempts in listings if pk not in give_up]
    # The write may have landed before the error (a timeout, a dropped answer): what the
    # channel shows is unknown until a push is confirmed, so none of these is skipped later.
    for pk, attempts in retry:
        delay = _backoff(attempts)
        Listing.objects.filter(pk=pk).update(
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=f"attempt {attempts}: {exc}"[:2000],
            confirmed_at=None,
        )
    Listing.objects.filter(pk__in=give_up).update(
        status=Listing.Status.FAILED,
        confirmed_at=None,
        last_error=f"gave up after {conf('MAX_ATTEMPTS')} attempts: {exc}"[:2000],
    )
    _clear_pending_if_unchanged(give_up)
    _release(keys)
    report.failed += len(give_up)
    Channel.objects.filter(pk=channel.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    channel.refresh_from_db(fields=["consecutive_failures", "circuit_open_until"])
    if channel.consecutive_failures >= conf("CIRCUIT_THRESHOLD"):
        reopened = channel.consecutive_failures - conf("CIRCUIT_THRESHOLD")
        opened = min(conf("CIRCUIT_COOLDOWN") * 2**reopened, 900)
        Channel.objects.filter(pk=channel.pk).update(
            circuit_open_until=now + timedelta(seconds=opened)
        )
        report.retry_in = opened
    _note(channel, exc)
    return "transient"


def _backoff(attempts):
    """Exponential backoff with jitter: base * 2^(n-1), capped, then 50-100% of that."""
    delay = min(conf("BACKOFF_BASE") * 2 ** (attempts - 1), conf("BACKOFF_MAX"))
    return delay * random.uniform(0.5, 1.0)


def _next_retry(channel):
    nxt = (
        Listing.objects.filter(channel=channel, pending_since__isnull=False)
        .exclude(next_attempt_at=None)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if nxt is None:
        return None
    return max((nxt - timezone.now()).total_seconds(), 0.5)


# --------------------------------------------------------------------------- channel state


def _healthy(channel):
    now = timezone.now()
    Channel.objects.filter(pk=channel.pk).update(
        last_success_at=now, consecutive_failures=0, circuit_open_until=None
    )


def _note(channel, exc):
    Channel.objects.filter(pk=channel.pk).update(
        last_error_at=timezone.now(), last_error=f"{exc.kind}: {exc}"[:2000]
    )


def _pause(channel, reason):
    Channel.objects.filter(pk=channel.pk).update(
        mode=Channel.Mode.PAUSED,
        paused_reason=reason[:255],
        last_error_at=timezone.now(),
        last_error=reason[:2000],
    )


def _record_paused(channel):
    """A paused channel sends nothing but keeps a record of what it would have sent."""
    listings = list(
        Listing.objects.filter(channel=channel, pending_since__isnull=False)
        .select_related("variant")
        .order_by("pk")[: conf("CLAIM_CHUNK")]
    )
    if not listings:
        return
    targets = targets_for(channel, [listing.variant for listing in listings])
    items = [
        {"key": lst.pk, "sku": lst.variant.sku, "quantity": targets[lst.variant_id].quantity}
        for lst in listings
    ]
    PushRecord.objects.create(
        channel=channel,
        purpose="write",
        method="-",
        url="(paused: not sent)",
        outcome=PushRecord.Outcome.RECORDED,
        items=items,
        error=f"paused: {channel.paused_reason or 'by staff'}",
    )


def _shadow(channel, connector, listings, items):
    """Compare with what the channel holds; record it; never write."""
    by_key = {listing.pk: listing for listing in listings}
    shows = {}
    try:
        if connector.capabilities.reads_levels:
            shows = connector.read_levels(items)
    except ConnectorError as exc:
        store_exchanges(channel, connector.exchanges, by_key, None)
        _release(list(by_key))
        _note(channel, exc)
        return "shadow read failed"
    store_exchanges(channel, connector.exchanges, by_key, None)
    compared = [
        {
            "key": i.key,
            "sku": i.sku,
            "quantity": i.quantity,
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
    with transaction.atomic():
        for key, quantity in shows.items():
            Listing.objects.filter(pk=key).update(
                confirmed_quantity=quantity, confirmed_at=timezone.now()
            )
        _clear_pending_if_unchanged(list(by_key))
        _release(list(by_key))
    return ""

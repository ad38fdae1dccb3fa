"""Talking to a channel on behalf of the database: the connector (with its tokens kept and
its requests paced across workers), every exchange stored as a push record, the channel's
health (last success, last error, circuit, pause), and a test of its connection."""

import functools
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors import queue
from connectors.exceptions import ConnectorError
from connectors.fields import readable
from connectors.models import Channel, PushRecord
from connectors.platforms import registry
from connectors.platforms.base import PushItem
from connectors.platforms.http import TIMEOUT
from connectors.platforms.pacing import MAX_WAIT, Pacer
from connectors.quantities import targets_for


def channel_connector(channel, *, max_wait=MAX_WAIT, **kwargs):
    """The channel's connector, keeping any token it obtains on the channel at once, its
    requests paced by one pacer that every worker shares (in Redis; in the process when
    Redis is unreachable); a request waits its turn at most `max_wait` seconds, else the
    connector raises RateLimited before sending. Raises ConfigError when the stored settings
    fail the platform's check, LookupError for a platform no longer registered."""

    def keep(auth_state):
        Channel.objects.filter(pk=channel.pk).update(auth_state=auth_state)
        channel.auth_state = auth_state

    def load():
        return Channel.objects.filter(pk=channel.pk).values_list("auth_state", flat=True).first()

    return registry.connector_class(channel.platform)(
        base_url=channel.base_url,
        credentials=readable(channel.credentials),
        settings=channel.settings,
        auth_state=readable(
            load() or channel.auth_state
        ),  # the freshest: other workers renew tokens too
        on_auth_change=keep,
        load_auth_state=load,
        pacer=_pacer(channel, max_wait),
        **{"timeout": (TIMEOUT[0], settings.SYNC["HTTP_TIMEOUT"]), **kwargs},
    )


def _pacer(channel, max_wait):
    if not settings.SYNC["PACING"]:
        return lambda rate: Pacer(None)
    try:
        store = queue.pacing_store()
    except Exception:  # Redis unreachable: each process paces alone
        store = None
    key = f"{channel.pk}:{channel.created_at.timestamp():.0f}"  # not a reused id's leftovers
    return functools.partial(Pacer, key=key, store=store, max_wait=max_wait)


def push_items(listings, targets, *, expect=False):
    """PushItems for listings (their variants loaded) at these targets. `expect`: carry what
    each channel last confirmed holding, for compare-and-set writes."""
    items = []
    for listing in listings:
        target = targets[listing.variant_id]
        confirmed = listing.confirmed_at is not None and listing.confirmed_quantity is not None
        items.append(
            PushItem(
                key=listing.pk,
                remote_id=listing.remote_id,
                remote_parent_id=listing.remote_parent_id,
                quantity=target.quantity,
                # An archived variant shown as 0 is not sold at 0 either.
                allow_backorder=listing.variant.allow_backorder and not listing.variant.archived,
                sku=listing.variant.sku,
                ledger_entry=target.ledger_entry,
                expected=listing.confirmed_quantity if expect and confirmed else None,
            )
        )
    return items


def store_exchanges(channel, exchanges, items=None, attempts=None):
    """One PushRecord per exchange, linked to the listings it concerned. `items`: the
    PushItems by key, whose SKU and ledger entry each record's items carry; `attempts`: the
    listings' failed attempts so far (a write is attempt + 1)."""
    items = items or {}
    attempts = attempts or {}
    records = PushRecord.objects.bulk_create(
        PushRecord(
            channel=channel,
            purpose=e.purpose,
            method=e.method,
            url=e.url,
            request_headers=e.request_headers,
            request_body=e.request_body,
            status=e.status,
            response_body=e.response_body,
            duration_ms=e.duration_ms,
            outcome=e.outcome,
            error=e.error,
            items=[_named(i, items) for i in e.items],
            attempt=1 + max((attempts.get(k, 0) for k in e.keys), default=0),
            ledger_entry_id=_ledger_entry(e, items),
        )
        for e in exchanges
    )
    PushRecord.listings.through.objects.bulk_create(
        PushRecord.listings.through(pushrecord_id=r.pk, listing_id=key)
        for r, e in zip(records, exchanges, strict=True)
        for key in e.keys
        if key in items
    )
    return records


def _named(outcome, items):
    """An item's outcome as stored: with its SKU, the quantity it was sent (its target; None:
    unlimited) and the ledger entry that reflects; `quantity` is what the channel shows."""
    item = items.get(outcome.get("key"))
    if item is None:
        return outcome
    named = {"key": item.key, "sku": item.sku, "target": item.quantity}
    return {**named, "ledger_entry": item.ledger_entry, **outcome}


def _ledger_entry(exchange, items):
    """The newest ledger entry a write's quantities reflect (None for other exchanges)."""
    if exchange.purpose != "write":
        return None
    entries = [items[k].ledger_entry for k in exchange.keys if k in items]
    return max((e for e in entries if e is not None), default=None)


# --------------------------------------------------------------------------- health


def channel_healthy(channel):
    """A write went through: the circuit closes, the failure count starts again."""
    Channel.objects.filter(pk=channel.pk).update(
        last_success_at=timezone.now(), consecutive_failures=0, circuit_open_until=None
    )


def channel_note_error(channel, exc):
    Channel.objects.filter(pk=channel.pk).update(
        last_error_at=timezone.now(), last_error=f"{exc.kind}: {exc}"[:2000]
    )


def channel_failed_transiently(channel, *, threshold, cooldown):
    """One more failed batch in a row; at `threshold`, the circuit opens (doubling with each
    failure past it, at most 15 minutes). Returns the seconds it stays open, or None."""
    Channel.objects.filter(pk=channel.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    channel.refresh_from_db(fields=["consecutive_failures", "circuit_open_until"])
    if channel.consecutive_failures < threshold:
        return None
    opened = min(cooldown * 2 ** min(channel.consecutive_failures - threshold, 10), 900)
    Channel.objects.filter(pk=channel.pk).update(
        circuit_open_until=timezone.now() + timedelta(seconds=opened)
    )
    return opened


def channel_pause_for(channel, reason):
    """A person must act (bad credentials, a channel-wide refusal): paused, with the reason."""
    Channel.objects.filter(pk=channel.pk).update(
        mode=Channel.Mode.PAUSED,
        paused_reason=reason[:255],
        last_error_at=timezone.now(),
        last_error=reason[:2000],
    )


# --------------------------------------------------------------------------- a connection test


def channel_test_connection(channel):
    """Authenticate and read one listed level where the platform can; returns a report.
    Raises ConnectorError with the channel's words when it fails."""
    connector = channel_connector(channel)
    listing = channel.listings.select_related("variant").first()
    items = []
    if listing is not None:
        items = push_items([listing], targets_for(channel, [listing.variant]))
    try:
        report = connector.test_connection(items[0] if items else None)
    except ConnectorError as exc:
        _finish(channel, connector, {i.key: i for i in items}, error=exc)
        raise
    _finish(channel, connector, {i.key: i for i in items})
    return report


def _finish(channel, connector, items, error=None):
    """Store the exchanges and what they taught us about the channel."""
    now = timezone.now()
    with transaction.atomic():
        store_exchanges(channel, connector.exchanges, items)
        if error is None:
            Channel.objects.filter(pk=channel.pk).update(last_success_at=now)
            channel.last_success_at = now
        else:
            message = f"{error.kind}: {error}"[:2000]
            Channel.objects.filter(pk=channel.pk).update(last_error_at=now, last_error=message)
            channel.last_error_at, channel.last_error = now, message

"""Talking to a channel on behalf of the database: build the connector, store every exchange
as a push record, test a connection, and the channel actions staff take."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors.exceptions import ConnectorError
from connectors.models import Channel, Listing, PushRecord
from connectors.platforms import connector_class
from connectors.platforms.base import PushItem
from connectors.quantities import targets_for


def channel_connector(channel, **kwargs):
    """The channel's connector, keeping any token it obtains on the channel at once."""

    def keep(auth_state):
        Channel.objects.filter(pk=channel.pk).update(auth_state=auth_state)
        channel.auth_state = auth_state

    def load():
        return Channel.objects.filter(pk=channel.pk).values_list("auth_state", flat=True).first()

    return connector_class(channel.platform)(
        base_url=channel.base_url,
        credentials=channel.credentials,
        settings=channel.settings,
        auth_state=load() or channel.auth_state,  # the freshest: other workers renew tokens too
        on_auth_change=keep,
        load_auth_state=load,
        **kwargs,
    )


def push_items(listings, targets):
    return [
        PushItem(
            key=listing.pk,
            remote_id=listing.remote_id,
            remote_parent_id=listing.remote_parent_id,
            quantity=targets[listing.variant_id].quantity,
            allow_backorder=listing.variant.allow_backorder,
            sku=listing.variant.sku,
        )
        for listing in listings
    ]


def channel_test_connection(channel):
    """Authenticate and read one listed level where the platform can; returns a report.
    Raises ConnectorError with the channel's words when it fails."""
    connector = channel_connector(channel)
    listing = channel.listings.select_related("variant").first()
    item = None
    if listing is not None:
        item = push_items([listing], targets_for(channel, [listing.variant]))[0]
    try:
        report = connector.test_connection(item)
    except ConnectorError as exc:
        _finish(channel, connector, error=exc)
        raise
    _finish(channel, connector)
    return report


def _finish(channel, connector, error=None):
    """Store the exchanges and what they taught us about the channel."""
    with transaction.atomic():
        store_exchanges(channel, connector.exchanges, {}, None)
        _update_health(channel, timezone.now(), error)


def store_exchanges(channel, exchanges, by_key, ledger_entry, attempt=1):
    """One PushRecord per exchange, linked to the listings it concerned."""
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
            items=e.items,
            attempt=attempt,
            ledger_entry_id=ledger_entry if e.purpose == "write" else None,
        )
        for e in exchanges
    )
    PushRecord.listings.through.objects.bulk_create(
        PushRecord.listings.through(pushrecord_id=r.pk, listing_id=key)
        for r, e in zip(records, exchanges, strict=True)
        for key in e.keys
        if key in by_key
    )
    return records


def _update_health(channel, now, error):
    if error is None:
        Channel.objects.filter(pk=channel.pk).update(last_success_at=now)
        channel.last_success_at = now
        return
    message = f"{error.kind}: {error}"[:2000]
    Channel.objects.filter(pk=channel.pk).update(last_error_at=now, last_error=message)
    channel.last_error_at, channel.last_error = now, message


# --------------------------------------------------------------------------- channel actions


def listings_mark_pending(listings, *, forget=True):
    """Ask for a push of these listings; returns how many. With `forget`, whatever the
    channel shows now: what it last confirmed is forgotten, so the push is sent even where
    the quantity did not move (a store that lost its levels, new remote ids, new settings).
    Without, listings whose channel confirmed their quantity are left out."""
    forgotten = {"confirmed_at": None} if forget else {}
    return Listing.objects.filter(pk__in=listings.values("pk")).update(
        pending_since=timezone.now(),
        change_seq=F("change_seq") + 1,
        status=Listing.Status.PENDING,
        attempts=0,
        next_attempt_at=None,
        **forgotten,
    )


def channel_push_now(channel, again_after=None):
    """Push every listing of the channel, whatever it shows now; with
    `again_after` seconds, mark them all pending once more then (see receivers.SOLD_TTL)."""
    from connectors.jobs import request_refresh, request_sync

    marked = listings_mark_pending(channel.listings.all())
    transaction.on_commit(lambda: request_sync([channel.pk]), robust=True)
    if again_after:
        transaction.on_commit(lambda: request_refresh(channel.pk, again_after), robust=True)
    return marked


def channel_retry_failed(channel):
    from connectors.jobs import request_sync

    marked = listings_mark_pending(channel.listings.filter(status=Listing.Status.FAILED))
    transaction.on_commit(lambda: request_sync([channel.pk]), robust=True)
    return marked


def channel_pause(channel, reason="paused by staff"):
    Channel.objects.filter(pk=channel.pk).update(mode=Channel.Mode.PAUSED, paused_reason=reason)


def channel_resume(channel):
    """Back to live: the circuit closes and the latest state of every pending listing goes."""
    from connectors.jobs import request_sync

    Channel.objects.filter(pk=channel.pk).update(
        mode=Channel.Mode.LIVE, paused_reason="", consecutive_failures=0, circuit_open_until=None
    )
    transaction.on_commit(lambda: request_sync([channel.pk]), robust=True)

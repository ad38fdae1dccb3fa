"""What staff do to a channel: push everything, retry what failed, pause, resume. Each is
queued for a worker once the transaction commits."""

from django.db import transaction

from connectors import listing_state, queue
from connectors.models import Channel, Listing


def channel_push_now(channel, again_after=None):
    """Push every listing of the channel, whatever it shows now and however often it failed;
    with `again_after` seconds, ask once more for what still differs then (the processes'
    caches of sold locations have caught up: listing_state.SOLD_TTL)."""
    marked = listing_state.push_asked(channel.listings.all())
    queue.sync_on_commit(channel.pk)
    if again_after:
        channel_id = channel.pk
        transaction.on_commit(lambda: queue.request_refresh(channel_id, again_after), robust=True)
    return marked


def channel_retry_failed(channel):
    """Send the failed listings again now, their backoff reset."""
    marked = listing_state.push_asked(channel.listings.filter(status=Listing.Status.FAILED))
    queue.sync_on_commit(channel.pk)
    return marked


def channel_refresh(channel):
    """Every listing's target again (a change of the channel's locations, once all processes
    see it); those already confirmed at it cost nothing."""
    listing_state.mark_pending(channel.listings.all())
    queue.sync_on_commit(channel.pk)


def channel_pause(channel, reason="paused by staff"):
    Channel.objects.filter(pk=channel.pk).update(mode=Channel.Mode.PAUSED, paused_reason=reason)


def channel_resume(channel):
    """Back to live: the circuit closes and the latest state of every pending listing goes."""
    Channel.objects.filter(pk=channel.pk).update(
        mode=Channel.Mode.LIVE, paused_reason="", consecutive_failures=0, circuit_open_until=None
    )
    queue.sync_on_commit(channel.pk)

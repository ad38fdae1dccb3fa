"""Reads that several places need: the channel admin and the admin's front page."""

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from connectors.models import Channel, Listing


def _listing_count(condition=None):
    listings = Listing.objects.filter(channel=OuterRef("pk"))
    if condition is not None:
        listings = listings.filter(condition)
    count = listings.order_by().values("channel").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def channels_with_health(queryset=None, *, listings=True):
    """Annotate n_pending and n_failed (and n_listings) on each channel.

    One subquery per count, each read from an index of its own ((channel, pending_since), the
    failed listings' partial index, (channel, variant)), rather than one join of every listing
    grouped by channel: with 100,000 listings a channel the join took 230 ms for five."""
    queryset = Channel.objects.all() if queryset is None else queryset
    counts = {
        "n_pending": _listing_count(Q(pending_since__isnull=False)),
        "n_failed": _listing_count(Q(status=Listing.Status.FAILED)),
    }
    if listings:
        counts["n_listings"] = _listing_count()
    return queryset.annotate(**counts)

"""Listening to the stock domain: a committed stock change marks listings pending and, once
committed, asks for a push of their channels."""

import logging

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Now
from django.db.models.signals import post_save
from django.dispatch import receiver

from connectors.models import Listing
from inventory.signals import stock_changed

log = logging.getLogger(__name__)


@receiver(post_save, sender=Listing, dispatch_uid="connectors-new-listing")
def first_push(sender, instance, created, **kwargs):
    """A new listing starts pending (its default); once committed, ask for its push."""
    if created:
        channel_id = instance.channel_id
        transaction.on_commit(lambda: _request({channel_id}), robust=True)


@receiver(stock_changed, dispatch_uid="connectors-mark-pending")
def mark_pending(sender, movement, variant_ids, location_ids, **kwargs):
    """In the stock change's own transaction: nothing is lost if the process dies after it."""
    listings = Listing.objects.filter(
        variant_id__in=variant_ids, channel__locations__in=location_ids
    )
    marked = Listing.objects.filter(pk__in=listings.values("pk")).update(
        change_seq=F("change_seq") + 1,
        pending_since=Coalesce(F("pending_since"), Now()),
        status=Listing.Status.PENDING,
        attempts=0,
        next_attempt_at=None,
    )
    if marked:
        channel_ids = set(listings.values_list("channel_id", flat=True).distinct())
        transaction.on_commit(lambda: _request(channel_ids), robust=True)


def _request(channel_ids):
    from connectors.jobs import request_sync

    request_sync(channel_ids)

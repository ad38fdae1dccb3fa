"""Listening to the stock domain: a committed stock change marks listings pending and, once
committed, asks for a push of their channels."""

import functools
import threading
import time

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from connectors.models import Channel, Listing
from inventory.signals import selling_rules_changed, stock_changed

CHUNK = 5000  # variant ids per statement
# Locations some channel sells, cached per process: a stock change elsewhere (a supplier, a
# location no channel sells) costs no statement. A process may see a change of a channel's
# locations up to SOLD_TTL late; the change itself marks the channel's listings pending
# now and again once every process has seen it (locations_changed below).
SOLD_TTL = 5.0
_sold = {"at": -SOLD_TTL, "locations": frozenset()}


def sold_locations():
    if time.monotonic() - _sold["at"] > SOLD_TTL:
        through = Channel.locations.through.objects
        _sold["locations"] = frozenset(through.values_list("location_id", flat=True).distinct())
        _sold["at"] = time.monotonic()
    return _sold["locations"]


@receiver(m2m_changed, sender=Channel.locations.through, dispatch_uid="connectors-locations")
def locations_changed(sender, instance, action, **kwargs):
    """What a channel sells changed: every target may have; push them all, now and once more
    when every process's cache of sold locations has caught up."""
    if action not in ("post_add", "post_remove", "post_clear") or not isinstance(instance, Channel):
        return
    _sold["at"] = -SOLD_TTL
    from connectors.services import channel_push_now

    channel_push_now(instance, again_after=SOLD_TTL + 1)


@receiver(pre_save, sender=Listing, dispatch_uid="connectors-moved-listing")
def moved_listing(sender, instance, **kwargs):
    """A listing given other remote ids (staff fixed them, a listing file moved them) points
    at an item whose quantity nobody confirmed: push it, whatever it was confirmed at."""
    if instance.pk and instance.remote_changed:
        instance.confirmed_at = None
        instance.pending_since = instance.pending_since or timezone.now()
        instance.status = Listing.Status.PENDING
        instance.change_seq = F("change_seq") + 1
        instance.attempts, instance.next_attempt_at = 0, None
        instance._moved = True


@receiver(post_save, sender=Listing, dispatch_uid="connectors-new-listing")
def first_push(sender, instance, created, **kwargs):
    """A new listing starts pending (its default); once committed, ask for its push. So does
    one that moved to other remote ids."""
    if created or getattr(instance, "_moved", False):
        instance._moved = False
        if not created:
            instance.refresh_from_db(fields=["change_seq"])  # not the F() expression
        instance._loaded_remote = (instance.remote_id, instance.remote_parent_id)
        request_on_commit({instance.channel_id})


@receiver(stock_changed, dispatch_uid="connectors-mark-pending")
def mark_pending(sender, movement, variant_ids, location_ids, **kwargs):
    """In the stock change's own transaction, so nothing is lost if the process dies after it:
    every listing of a changed variant on a channel selling a changed location is pending.

    Raw SQL, built once: it runs with every stock mutation, and one statement both marks the
    listings and returns their channels."""
    if not sold_locations() & location_ids:
        return
    conn = connections["default"]
    locations = sorted(location_ids)
    variants = sorted(variant_ids)
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    channel_ids = set()
    with conn.cursor() as cursor:
        for start in range(0, len(variants), CHUNK):
            chunk = variants[start : start + CHUNK]
            cursor.execute(
                _mark_sql(conn.vendor, len(chunk), len(locations)), [now, *chunk, *locations]
            )
            channel_ids.update(row[0] for row in cursor.fetchall())
    if channel_ids:
        request_on_commit(channel_ids)


@receiver(selling_rules_changed, dispatch_uid="connectors-selling-rules")
def rules_changed(sender, variant_ids, **kwargs):
    """A variant now tracked or not, sold when out of stock or not: every channel listing it
    is sent it again, though its quantity may not have moved (HighLevel's
    allowOutOfStockPurchases, Webflow's infinite inventory)."""
    from connectors.services import listings_mark_pending

    listings = Listing.objects.filter(variant_id__in=variant_ids)
    if listings_mark_pending(listings):
        request_on_commit(set(listings.values_list("channel_id", flat=True).distinct()))


@functools.cache
def _mark_sql(vendor, n_variants, n_locations):
    q = connections["default"].ops.quote_name
    listing = q(Listing._meta.db_table)
    sold_at = q(Channel.locations.through._meta.db_table)
    marks = ", ".join
    return (
        f"UPDATE {listing} SET change_seq = change_seq + 1, "
        "pending_since = COALESCE(pending_since, %s), "
        f"status = '{Listing.Status.PENDING.value}', attempts = 0, next_attempt_at = NULL "
        f"WHERE variant_id IN ({marks(['%s'] * n_variants)}) AND channel_id IN "
        f"(SELECT channel_id FROM {sold_at} WHERE location_id IN ({marks(['%s'] * n_locations)})) "
        "RETURNING channel_id"
    )


_wanted = threading.local()


def request_on_commit(channel_ids):
    """Ask, once the transaction commits, for one push per channel however many listings or
    changes asked within it (an import of 10,000 rows queues one job per channel). Every
    call registers a callback, so a rolled-back transaction loses nobody's request: the
    first callback to run takes all the ids gathered, the others find nothing left."""
    wanted = getattr(_wanted, "ids", None)
    if wanted is None:
        wanted = _wanted.ids = set()
    wanted.update(channel_ids)
    transaction.on_commit(_flush, robust=True)


def _flush():
    from connectors.jobs import request_sync

    channel_ids, _wanted.ids = getattr(_wanted, "ids", None) or set(), None
    if channel_ids:
        # A short wait lets a burst of changes gather into full batches; later changes find
        # the push already queued, and the worker reads the latest stock when it runs.
        request_sync(sorted(channel_ids), delay=settings.SYNC["COALESCE"] or None, tally=True)

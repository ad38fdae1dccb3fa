"""Listening: committed stock changes and selling rules from the stock domain, and changes of
listings and of what a channel sells, become pending listings and queued pushes."""

from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from connectors import listing_state, queue
from connectors.models import Channel, Listing
from connectors.services.actions import channel_push_now
from inventory.models import Source
from inventory.signals import selling_rules_changed, stock_changed, variants_archived


@receiver(stock_changed, dispatch_uid="connectors-mark-pending")
def mark_pending(sender, movement, variant_ids, location_ids, **kwargs):
    """In the stock change's own transaction, so nothing is lost if the process dies after it:
    every listing of a changed variant on a channel selling a changed location is pending."""
    channel_ids = listing_state.stock_changed(variant_ids, location_ids)
    if channel_ids:
        # A channel's sale is pushed to the others at once; staff and file changes wait a
        # moment so that a burst goes out in full batches.
        queue.request_on_commit(channel_ids, at_once=movement.source == Source.CHANNEL)


@receiver(selling_rules_changed, dispatch_uid="connectors-selling-rules")
def rules_changed(sender, variant_ids, **kwargs):
    """A variant now tracked or not, sold when out of stock or not: every channel listing it
    is sent it again, though its quantity may not have moved (HighLevel's
    allowOutOfStockPurchases, Webflow's infinite inventory)."""
    listings = Listing.objects.filter(variant_id__in=variant_ids)
    if listing_state.mark_pending(listings, forget=True):
        queue.request_on_commit(set(listings.values_list("channel_id", flat=True).distinct()))


@receiver(variants_archived, dispatch_uid="connectors-archived")
def archived(sender, variant_ids, unlist, **kwargs):
    """Archived variants: unlisted, their listings go (nothing more is sent for them; each
    channel's item stays as the channel holds it); kept listed, they are sent 0 (quantities)."""
    listings = Listing.objects.filter(variant_id__in=variant_ids)
    if unlist:
        listings.delete()
    else:
        rules_changed(sender, variant_ids)


@receiver(m2m_changed, sender=Channel.locations.through, dispatch_uid="connectors-locations")
def locations_changed(sender, instance, action, **kwargs):
    """What a channel sells changed: every target may have; push them all, now and once more
    when every process's cache of sold locations has caught up."""
    if action not in ("post_add", "post_remove", "post_clear") or not isinstance(instance, Channel):
        return
    listing_state.forget_sold_locations()
    channel_push_now(instance, again_after=listing_state.SOLD_TTL + 1)


@receiver(pre_save, sender=Listing, dispatch_uid="connectors-moved-listing")
def moved_listing(sender, instance, **kwargs):
    """Remember whether a saved listing was given another variant or other remote ids
    (post_save acts on it)."""
    instance._moved = bool(instance.pk) and instance.moved


@receiver(post_save, sender=Listing, dispatch_uid="connectors-new-listing")
def first_push(sender, instance, created, **kwargs):
    """A new listing starts pending (its default): once committed, ask for its push. One
    given other remote ids (staff fixed them, a listing file moved them) points at an item
    whose quantity nobody confirmed, as does one given another variant: it is sent, whatever
    it was confirmed at."""
    moved, instance._moved = getattr(instance, "_moved", False), False
    if moved:
        listing_state.push_asked(Listing.objects.filter(pk=instance.pk))
    if created or moved:
        instance.remember_identity()
        queue.request_on_commit({instance.channel_id})

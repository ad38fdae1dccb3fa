"""Discontinuing products and variants: archived rather than deleted, so their ledger, levels
and orders stay whole; hidden from the default lists; restorable.

On archiving, the person chooses what the channels do (the `variants_archived` signal: the
connectors app listens): keep the variants listed, shown as 0, or unlist them."""

from django.db import transaction
from django.utils import timezone

from inventory.models import Product, Variant
from inventory.signals import selling_rules_changed, variants_archived


def variant_archive(*, variants, unlist):
    """Archive the given variants not archived yet; the channels show them as 0 (unlist=False)
    or stop selling them (unlist=True). Returns how many were archived."""
    with transaction.atomic():
        ids = _ids(Variant.objects.filter(pk__in=_pks(variants), archived_at__isnull=True))
        if ids:
            Variant.objects.filter(pk__in=ids).update(archived_at=timezone.now())
            variants_archived.send(sender=Variant, variant_ids=ids, unlist=unlist)
    return len(ids)


def variant_restore(*, variants):
    """Bring archived variants back (their product too, if it was archived): the channels that
    still list them are sent their stock again. Returns how many were restored."""
    with transaction.atomic():
        restored = Variant.objects.filter(pk__in=_pks(variants), archived_at__isnull=False)
        ids = _ids(restored)
        if ids:
            Product.objects.filter(
                pk__in=restored.values("product_id"), archived_at__isnull=False
            ).update(archived_at=None)
            Variant.objects.filter(pk__in=ids).update(archived_at=None)
            selling_rules_changed.send(sender=Variant, variant_ids=ids)
    return len(ids)


def product_archive(*, products, unlist):
    """Archive products with every variant of theirs still active, at one moment (restoring
    the product brings back those, not variants archived before it). Returns how many
    products were archived."""
    with transaction.atomic():
        chosen = Product.objects.filter(pk__in=_pks(products), archived_at__isnull=True)
        product_ids = _ids(chosen)
        if not product_ids:
            return 0
        now = timezone.now()
        variants = Variant.objects.filter(product_id__in=product_ids, archived_at__isnull=True)
        ids = _ids(variants)
        Product.objects.filter(pk__in=product_ids).update(archived_at=now)
        Variant.objects.filter(pk__in=ids).update(archived_at=now)
        if ids:
            variants_archived.send(sender=Variant, variant_ids=ids, unlist=unlist)
    return len(product_ids)


def product_restore(*, products):
    """Bring archived products back, with the variants archived with them. Returns how many
    products were restored."""
    with transaction.atomic():
        chosen = list(
            Product.objects.filter(pk__in=_pks(products), archived_at__isnull=False).values_list(
                "pk", "archived_at"
            )
        )
        ids = set()
        for pk, archived_at in chosen:
            ids |= _ids(Variant.objects.filter(product_id=pk, archived_at=archived_at))
        Product.objects.filter(pk__in=[pk for pk, _ in chosen]).update(archived_at=None)
        if ids:
            Variant.objects.filter(pk__in=ids).update(archived_at=None)
            selling_rules_changed.send(sender=Variant, variant_ids=frozenset(ids))
    return len(chosen)


def _pks(objects):
    return [getattr(obj, "pk", obj) for obj in objects]


def _ids(queryset):
    return frozenset(queryset.values_list("pk", flat=True))

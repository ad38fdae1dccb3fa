"""Small builders for test data. Stock is only ever given through the stock service."""

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from connectors.models import Listing
from inventory.models import Location, Product, Source, Variant
from inventory.services import StockLine, stock_apply

_seq = itertools.count(1)


def product(name=None):
    return Product.objects.create(name=name or f"Product {next(_seq)}")


def variant(sku=None, *, product_obj=None, **fields):
    n = next(_seq)
    return Variant.objects.create(product=product_obj or product(), sku=sku or f"SKU-{n}", **fields)


def location(code=None, **fields):
    code = code or f"LOC{next(_seq)}"
    fields.setdefault("name", f"Location {code}")
    return Location.objects.create(code=code, **fields)


def stock(variant_obj, location_obj, on_hand, allocated=0):
    """Give a level its starting balance through the service (a count, then an allocation)."""
    lines = [
        StockLine(
            action="count", quantity=on_hand, variant_id=variant_obj.pk, location_id=location_obj.pk
        )
    ]
    if allocated:
        lines.append(
            StockLine(
                action="allocate",
                quantity=allocated,
                variant_id=variant_obj.pk,
                location_id=location_obj.pk,
            )
        )
    return stock_apply(lines=lines, source=Source.SYSTEM, reason="test setup")


def user(username, *, role=None, superuser=False, password="pw-for-tests-1"):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", password)
    u = User.objects.create_user(username, f"{username}@example.com", password, is_staff=True)
    if role:
        u.groups.add(Group.objects.get(name=role))
    return u


def listings(channel, variants, items):
    """Each variant listed on the channel as the sandbox item beside it (testing.Item)."""
    for variant_obj, item in zip(variants, items, strict=True):
        Listing.objects.create(
            channel=channel,
            variant=variant_obj,
            remote_id=item.remote_id,
            remote_parent_id=item.remote_parent_id,
        )

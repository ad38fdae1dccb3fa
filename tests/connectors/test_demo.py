"""The demo channels of `make run`: made once, listing the demo's own variants; a second
`make run` leaves the catalog and the listings as staff left them."""

from io import StringIO

import pytest
from django.core.management import call_command

from connectors.demo import demo_platforms
from connectors.models import Channel, Listing
from inventory.models import Variant

pytestmark = pytest.mark.django_db


def make_run_commands():
    out = StringIO()
    call_command("load_demo", "--no-login", stdout=out)
    call_command("load_demo_channels", stdout=out)


def test_a_second_make_run_lists_no_variant_made_by_hand(make):
    make_run_commands()
    demo_skus = set(Variant.objects.values_list("sku", flat=True))
    listed = {c.name: c.listings.count() for c in Channel.objects.all()}
    hand = [make.variant("HAND-MADE-1"), make.variant("HAND-MADE-2")]

    make_run_commands()

    assert Listing.objects.filter(variant__in=hand).count() == 0
    assert {c.name: c.listings.count() for c in Channel.objects.all()} == listed
    assert len(listed) == len(demo_platforms())
    for channel in Channel.objects.all():
        skus = list(channel.listings.values_list("variant__sku", flat=True))
        assert sorted(skus) == sorted(set(skus)), channel.name  # each variant once
        assert set(skus) <= demo_skus, channel.name


def test_the_demo_channels_list_only_the_demos_variants_even_made_after_staffs(make):
    call_command("load_demo", "--no-login", stdout=StringIO())
    own = make.variant("STAFF-OWN-1")  # made before the demo channels, by hand
    call_command("load_demo_channels", stdout=StringIO())

    assert not own.listings.exists()
    assert Listing.objects.filter(variant__sku="TEE-M-BLA").count() == len(demo_platforms())


def test_a_demo_channel_staff_deleted_is_not_made_again(make):
    make_run_commands()
    Channel.objects.get(name="Demo webflow").delete()
    out = StringIO()
    call_command("load_demo_channels", stdout=out)
    assert not Channel.objects.filter(name="Demo webflow").exists()
    assert "already there, left as they are" in out.getvalue()

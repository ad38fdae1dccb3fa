"""Movements and ledger lines in the admin, named as staff know them: what a movement is, which
SKU at which location each ledger line changed and what it left, and which movement reverses
which, with links both ways."""

import re

import pytest
from django.urls import reverse

from config.roles import CLERK, sync_roles
from inventory.display import when
from inventory.models import Movement, Source
from inventory.services import StockLine, movement_reverse, stock_apply

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make):
    sync_roles()
    wh = make.location("WH1")
    tee = make.variant("TEE-M")
    make.stock(tee, wh, 10)
    return tee, wh


@pytest.fixture
def clerk(client, make):
    make.user("anna", role=CLERK)
    client.login(username="anna", password="pw-for-tests-1")
    return client


def adjust(*lines, reason="damaged", user=None, source=Source.ADMIN, reference=""):
    return stock_apply(
        lines=[StockLine(action=a, quantity=q, sku="TEE-M", location="WH1") for a, q in lines],
        source=source,
        reason=reason,
        reference=reference,
        user=user,
    ).movement


def movement_page(client, movement):
    url = reverse("admin:inventory_movement_change", args=[movement.pk])
    return client.get(url).content.decode()


def text(html):
    """The page's words, without tags and with single spaces (what a person reads)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_movement_is_titled_by_what_it_is_and_keeps_its_number(clerk, shop, make):
    anna = make.user("anna2")
    manual = adjust(("decrement", 2), user=anna)
    imported = adjust(("count", 12), source=Source.IMPORT, reason="", reference="stock.csv")

    assert str(manual) == (
        f"Movement #{manual.pk}: Manual adjustment by anna2, {when(manual.created_at)}: damaged"
    )
    assert str(imported) == (
        f"Movement #{imported.pk}: Import of stock.csv, {when(imported.created_at)}"
    )
    page = text(movement_page(clerk, manual))
    assert f"Movement #{manual.pk}: Manual adjustment by anna2" in page  # the page's title
    assert re.search(r"\d{4}-\d\d-\d\d", page) is None  # one date format: "2 Dec 2026, 18:37"


def test_ledger_lines_read_sku_location_action_and_what_they_left(clerk, shop):
    removed = adjust(("decrement", 2), ("allocate", 3))
    page = text(movement_page(clerk, removed))
    assert "TEE-M at WH1: removed 2, 8 on hand" in page
    assert "TEE-M at WH1: allocated 3, 8 on hand, 3 allocated" in page
    assert "-2 on hand" in page
    assert "+3 allocated" in page
    counted = adjust(("count", 12))
    assert "TEE-M at WH1: counted 12 (+4), 12 on hand" in text(movement_page(clerk, counted))
    assert "All 2 ledger lines" in page
    assert "Its 1 ledger line" in text(movement_page(clerk, counted))


def test_a_reversal_and_what_it_reverses_link_to_each_other(clerk, shop):
    first = adjust(("increment", 5))
    undo = movement_reverse(movement=first, source=Source.ADMIN, reason="counted twice").movement

    first_page = movement_page(clerk, first)
    undo_url = reverse("admin:inventory_movement_change", args=[undo.pk])
    assert f'Reversed by <a href="{undo_url}">Movement #{undo.pk}: Reversal of #{first.pk}' in (
        first_page
    )
    assert "Reverse this movement" not in first_page  # once is all
    first_url = reverse("admin:inventory_movement_change", args=[first.pk])
    undo_page = movement_page(clerk, undo)
    assert f'Reverses <a href="{first_url}">Movement #{first.pk}: Manual adjustment' in undo_page
    assert f"Reversal of #{first.pk}, " in undo_page
    assert ": counted twice" in undo_page

    listing = clerk.get(reverse("admin:inventory_movement_changelist")).content.decode()
    assert f'reversed by <a href="{undo_url}">#{undo.pk}</a>' in listing
    assert f'reverses <a href="{first_url}">#{first.pk}</a>' in listing


def test_a_reversal_needs_a_reason_and_is_done_once(clerk, shop):
    first = adjust(("increment", 5))
    url = reverse("admin:inventory_movement_reverse", args=[first.pk])
    form = clerk.get(url).content.decode()
    assert "undoes its 1 ledger line of" in text(form)
    assert "Give a reason" in clerk.post(url, {"reason": ""}).content.decode()
    assert not Movement.objects.filter(reverses=first).exists()

    clerk.post(url, {"reason": "wrong shelf"})
    again = clerk.post(url, {"reason": "wrong shelf"}, follow=True).content.decode()
    undo = Movement.objects.get(reverses=first)
    assert f"was already reversed by movement #{undo.pk}" in again
    assert undo.reason == "wrong shelf"
    assert Movement.objects.filter(reverses=first).count() == 1


def test_the_ledger_list_says_ledger_entries_and_links_each_line_to_its_movement(clerk, shop):
    movement = adjust(("decrement", 2))
    page = clerk.get(reverse("admin:inventory_stocktransaction_changelist")).content.decode()
    assert "Select ledger entry to view" in page
    assert f'title="{movement.title}">#{movement.pk}</a>' in page

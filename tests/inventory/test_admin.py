"""The admin as staff use it: pages, roles, stock forms, the read-only ledger, query counts."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.roles import CLERK, VIEWER, sync_roles
from inventory.models import Location, Movement, Source, StockLevel, StockTransaction
from inventory.services import StockLine, stock_apply

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make):
    sync_roles()
    wh = make.location("WH1")
    store = make.location("STORE", kind="store")
    tee = make.variant("TEE-M", barcode="4006381333931")
    make.stock(tee, wh, 10)
    return tee, wh, store


def login(client, make, username, **kwargs):
    make.user(username, **kwargs)
    client.login(username=username, password="pw-for-tests-1")
    return client


@pytest.fixture
def superuser_client(client, make):
    return login(client, make, "boss", superuser=True)


@pytest.fixture
def viewer_client(client, make):
    return login(client, make, "vera", role=VIEWER)


@pytest.fixture
def clerk_client(client, make):
    return login(client, make, "carl", role=CLERK)


def on_hand(variant, location):
    lv = StockLevel.objects.filter(variant=variant, location=location).first()
    return lv.on_hand if lv else 0


def adjust_url(variant):
    return reverse("admin:inventory_variant_adjust", args=[variant.pk])


def adjust_form(client, variant):
    """GET the adjust form as a browser would and return its hidden fields."""
    page = client.get(adjust_url(variant)).content.decode()
    return dict(re.findall(r'<input type="hidden" name="(token|seen)" value="([^"]*)"', page))


# ---------------------------------------------------------------- pages


def test_every_page_renders_for_a_superuser(superuser_client, shop):
    tee, _, _ = shop
    movement = Movement.objects.first()
    tx = StockTransaction.objects.first()
    urls = [
        reverse("admin:index"),
        reverse("admin:inventory_product_changelist"),
        reverse("admin:inventory_product_add"),
        reverse("admin:inventory_product_change", args=[tee.product_id]),
        reverse("admin:inventory_variant_changelist"),
        reverse("admin:inventory_variant_changelist") + "?q=TEE",
        reverse("admin:inventory_variant_changelist") + "?stock=out",
        reverse("admin:inventory_variant_change", args=[tee.pk]),
        adjust_url(tee),
        reverse("admin:inventory_variant_move", args=[tee.pk]),
        reverse("admin:inventory_location_changelist"),
        reverse("admin:inventory_stocklevel_changelist"),
        reverse("admin:inventory_movement_changelist"),
        reverse("admin:inventory_movement_change", args=[movement.pk]),
        reverse("admin:inventory_movement_reverse", args=[movement.pk]),
        reverse("admin:inventory_stocktransaction_changelist"),
        reverse("admin:inventory_stocktransaction_change", args=[tx.pk]),
    ]
    for url in urls:
        assert superuser_client.get(url).status_code == 200, url


def test_variant_page_shows_levels_at_every_location_and_recent_movements(superuser_client, shop):
    tee, _, _ = shop
    page = superuser_client.get(reverse("admin:inventory_variant_change", args=[tee.pk]))
    html = page.content.decode()
    assert "WH1 · Location WH1" in html
    assert "STORE · Location STORE" in html  # a location with no level yet shows zeros
    assert "test setup" in html  # the reason of the opening count
    assert "Adjust stock" in html


def variant_page(client, variant, **params):
    url = reverse("admin:inventory_variant_change", args=[variant.pk])
    return client.get(url, params).content.decode()


def history_chart(html):
    """The stock history's SVG, parsed (the page has other SVGs: the theme toggle's icons)."""
    return ET.fromstring(re.search(r'<svg[^>]*class="step-chart".*?</svg>', html, re.S)[0])


def test_variant_page_draws_the_stock_history_per_location(superuser_client, shop):
    tee, wh, store = shop
    move = StockLine(
        action="move", quantity=4, variant_id=tee.pk, location_id=wh.pk, to_location_id=store.pk
    )
    stock_apply(lines=[move], source=Source.ADMIN, reason="restock the shop")

    html = variant_page(superuser_client, tee)

    svg = "{http://www.w3.org/2000/svg}"
    chart = history_chart(html)
    assert len(chart.findall(f".//{svg}path")) == 2
    legend = [t.text for t in chart.find(f"{svg}g[@class='legend']").iter(f"{svg}text")]
    assert legend == ["STORE: 4", "WH1: 6"]
    tips = [t.text for t in chart.iterfind(f".//{svg}circle/{svg}title")]
    assert any(tip.endswith("STORE · on hand 4 · +4 · restock the shop") for tip in tips)
    assert "since the first movement" in html  # the axis starts there, not 90 days ago
    assert '<strong aria-current="true">90 days</strong>' in html


def test_a_variant_without_movements_says_so_instead_of_a_chart(superuser_client, shop, make):
    html = variant_page(superuser_client, make.variant())

    assert "No stock movements yet." in html
    assert 'class="step-chart"' not in html
    assert superuser_client.get(reverse("admin:inventory_variant_add")).status_code == 200


def test_a_location_code_with_markup_is_escaped_in_the_chart(superuser_client, make):
    odd = make.location("<&>")
    tee = make.variant()
    make.stock(tee, odd, 3)

    html = variant_page(superuser_client, tee)

    assert "<&>" not in html
    assert "&lt;&amp;&gt;: 3" in html
    history_chart(html)  # still well-formed


def test_the_history_range_is_picked_with_plain_links(superuser_client, shop):
    tee, _, _ = shop

    html = variant_page(superuser_client, tee, history="30d")

    assert '<strong aria-current="true">30 days</strong>' in html
    assert 'href="?history=1y#stock-history"' in html
    html = variant_page(superuser_client, tee, history="forever")
    assert '<strong aria-current="true">90 days</strong>' in html


def test_the_variant_page_costs_the_same_queries_however_long_its_history(
    superuser_client, shop, make
):
    tee, wh, store = shop
    url = reverse("admin:inventory_variant_change", args=[tee.pk])
    superuser_client.get(url)  # warms the content types' cache
    small = _queries(superuser_client, url)
    for loc in (wh, store, make.location(), make.location()):
        for n in range(10):
            make.stock(tee, loc, 5 + n % 3)
    large = _queries(superuser_client, url)
    assert small == large


@pytest.mark.parametrize("term", ["TEE-M", "4006381333931", "Product"])
def test_variants_are_found_by_sku_barcode_and_name(superuser_client, shop, make, term):
    tee, _, _ = shop
    other = make.variant("HAT-S", barcode="9780201379624", product_obj=make.product("Caps"))
    page = superuser_client.get(reverse("admin:inventory_variant_changelist"), {"q": term})
    html = page.content.decode()
    # The rows link to the variants found; the search box echoes the term whatever it finds.
    assert reverse("admin:inventory_variant_change", args=[tee.pk]) in html
    assert reverse("admin:inventory_variant_change", args=[other.pk]) not in html


# ---------------------------------------------------------------- roles


def test_a_viewer_sees_stock_but_cannot_change_it(viewer_client, shop):
    tee, wh, _ = shop
    page = viewer_client.get(reverse("admin:inventory_variant_change", args=[tee.pk]))
    assert page.status_code == 200
    assert "Adjust stock" not in page.content.decode()
    assert viewer_client.get(adjust_url(tee)).status_code == 403
    post = viewer_client.post(
        adjust_url(tee),
        {"apply": "1", "operation": "increment", "location": wh.pk, "quantity": 5, "token": "x"},
    )
    assert post.status_code == 403
    changelist = viewer_client.get(reverse("admin:inventory_variant_changelist"))
    assert "adjust_selected" not in changelist.content.decode()
    assert on_hand(tee, wh) == 10


def test_a_clerk_adjusts_stock_through_the_service(clerk_client, shop):
    tee, wh, _ = shop
    hidden = adjust_form(clerk_client, tee)
    response = clerk_client.post(
        adjust_url(tee),
        {
            "apply": "1",
            "operation": "decrement",
            "location": wh.pk,
            "quantity": 3,
            "reason": "damaged",
            **hidden,
        },
    )
    assert response.status_code == 302
    assert on_hand(tee, wh) == 7
    movement = Movement.objects.first()
    assert (movement.source, movement.reason, movement.user.username) == (
        Source.ADMIN,
        "damaged",
        "carl",
    )


def test_submitting_the_same_form_twice_applies_it_once(clerk_client, shop):
    tee, wh, _ = shop
    data = {
        "apply": "1",
        "operation": "increment",
        "location": wh.pk,
        "quantity": 4,
        "reason": "delivery",
        **adjust_form(clerk_client, tee),
    }
    clerk_client.post(adjust_url(tee), data)
    clerk_client.post(adjust_url(tee), data)
    assert on_hand(tee, wh) == 14


def test_a_refused_adjustment_shows_why_and_changes_nothing(clerk_client, shop):
    tee, wh, _ = shop
    response = clerk_client.post(
        adjust_url(tee),
        {
            "apply": "1",
            "operation": "decrement",
            "location": wh.pk,
            "quantity": 50,
            "reason": "damaged",
            **adjust_form(clerk_client, tee),
        },
    )
    assert response.status_code == 200
    assert "insufficient stock: available 10, cannot decrement 50" in response.content.decode()
    assert on_hand(tee, wh) == 10


def test_a_count_from_a_form_opened_before_a_colleagues_change_is_refused(clerk_client, shop):
    tee, wh, _ = shop
    hidden = adjust_form(clerk_client, tee)  # shows 10 on hand
    stock_apply(
        lines=[StockLine(action="decrement", quantity=2, variant_id=tee.pk, location_id=wh.pk)],
        source=Source.CHANNEL,
    )
    response = clerk_client.post(
        adjust_url(tee),
        {
            "apply": "1",
            "operation": "count",
            "location": wh.pk,
            "quantity": 10,
            "reason": "counted",
            **hidden,
        },
    )
    assert "stale: expected on hand 10 but it is 8 now" in response.content.decode()
    assert on_hand(tee, wh) == 8


def test_a_clerk_moves_stock(clerk_client, shop):
    tee, wh, store = shop
    response = clerk_client.post(
        reverse("admin:inventory_variant_move", args=[tee.pk]),
        {
            "apply": "1",
            "from_location": wh.pk,
            "to_location": store.pk,
            "quantity": 4,
            "reason": "restock the store",
            "token": "move-1",
        },
    )
    assert response.status_code == 302
    assert (on_hand(tee, wh), on_hand(tee, store)) == (6, 4)


def test_a_clerk_adjusts_several_variants_as_one_movement(clerk_client, shop, make):
    tee, wh, _ = shop
    cap = make.variant("CAP")
    changelist = reverse("admin:inventory_variant_changelist")
    selected = {"action": "adjust_selected", "_selected_action": [tee.pk, cap.pk]}
    form = clerk_client.post(changelist, selected)
    assert "Adjust stock of 2 variants" in form.content.decode()
    response = clerk_client.post(
        changelist,
        {
            **selected,
            "apply": "1",
            "operation": "increment",
            "location": wh.pk,
            f"quantity_{tee.pk}": 2,
            f"quantity_{cap.pk}": 5,
            "reason": "delivery 12",
            "token": "bulk-1",
        },
    )
    assert response.status_code == 302
    assert (on_hand(tee, wh), on_hand(cap, wh)) == (12, 5)
    assert Movement.objects.first().line_count == 2


def test_a_clerk_reverses_a_movement_and_a_viewer_cannot(client, make, shop):
    tee, wh, _ = shop
    done = stock_apply(
        lines=[StockLine(action="increment", quantity=5, variant_id=tee.pk, location_id=wh.pk)],
        source=Source.ADMIN,
    )
    url = reverse("admin:inventory_movement_reverse", args=[done.movement.pk])
    login(client, make, "vera", role=VIEWER)
    assert client.post(url).status_code == 403
    login(client, make, "carl", role=CLERK)
    refused = client.post(url, {"reason": "  "})  # the ledger keeps why
    assert "Give a reason" in refused.content.decode()
    assert not Movement.objects.filter(reverses=done.movement).exists()
    assert client.post(url, {"reason": "counted twice"}).status_code == 302
    assert on_hand(tee, wh) == 10
    assert Movement.objects.filter(reverses=done.movement).exists()


# ---------------------------------------------------------------- the ledger is read-only


def test_the_ledger_refuses_edits_and_deletes_even_for_a_superuser(superuser_client, shop):
    tx = StockTransaction.objects.first()
    change = reverse("admin:inventory_stocktransaction_change", args=[tx.pk])
    page = superuser_client.get(change).content.decode()
    assert 'name="_save"' not in page
    assert superuser_client.post(change, {"quantity": 999}).status_code == 403
    delete = reverse("admin:inventory_stocktransaction_delete", args=[tx.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    add = reverse("admin:inventory_stocktransaction_add")
    assert superuser_client.get(add).status_code == 403
    changelist = superuser_client.get(reverse("admin:inventory_stocktransaction_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    movement = reverse("admin:inventory_movement_delete", args=[tx.movement_id])
    assert superuser_client.post(movement, {"post": "yes"}).status_code == 403
    assert StockTransaction.objects.filter(pk=tx.pk, quantity=tx.quantity).exists()


# ---------------------------------------------------------------- query counts


def _catalog(make, n):
    """n more variants, each stocked at three locations by its own movement, and n more
    locations, so that every changelist grows by n rows."""
    stocked = list(Location.objects.order_by("pk")[:3]) or [make.location() for _ in range(3)]
    for _ in range(n):
        make.location()
        v = make.variant()
        lines = [
            StockLine(action="increment", quantity=5, variant_id=v.pk, location_id=loc.pk)
            for loc in stocked
        ]
        stock_apply(lines=lines, source=Source.SYSTEM)


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# Session + user, then the count and the page (+ a filter's choices, the date hierarchy).
CHANGELISTS = {
    "admin:inventory_product_changelist": 4,
    "admin:inventory_variant_changelist": 4,
    "admin:inventory_location_changelist": 5,
    "admin:inventory_stocklevel_changelist": 5,
    "admin:inventory_movement_changelist": 6,
    "admin:inventory_stocktransaction_changelist": 5,
}


@pytest.mark.parametrize(("name", "pinned"), CHANGELISTS.items())
def test_changelists_cost_the_same_queries_at_10_and_100_rows(superuser_client, make, name, pinned):
    sync_roles()
    _catalog(make, 10)
    small = _queries(superuser_client, reverse(name))
    _catalog(make, 90)
    large = _queries(superuser_client, reverse(name))
    assert (small, large) == (pinned, pinned)


def test_redis_being_down_never_turns_a_stock_change_into_an_error(clerk_client, shop, settings):
    tee, wh, _ = shop
    dead = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {name: {"URL": dead} for name in settings.RQ_QUEUES}
    response = clerk_client.post(
        adjust_url(tee),
        {
            "apply": "1",
            "operation": "increment",
            "location": wh.pk,
            "quantity": 1,
            "reason": "found one",
            **adjust_form(clerk_client, tee),
        },
    )
    assert response.status_code == 302
    assert on_hand(tee, wh) == 11


@pytest.mark.parametrize("limit", [5000, 1])  # a few out of stock; more than the id list holds
def test_the_stock_status_filter_sums_every_location(superuser_client, make, monkeypatch, limit):
    from inventory import selectors

    found = selectors.variant_ids_out_of_stock
    monkeypatch.setattr(selectors, "variant_ids_out_of_stock", lambda: found(limit=limit))
    wh, popup = make.location("WH1"), make.location("POPUP", allow_negative=True)
    make.stock(make.variant("IN"), wh, 5)
    make.stock(make.variant("ZERO"), wh, 0)
    make.variant("NO-LEVELS")
    evens = make.variant("EVENS")  # 3 in the warehouse, -3 at the pop-up: 0 in all
    make.stock(evens, wh, 3)
    stock_apply(
        lines=[
            StockLine(action="decrement", quantity=3, variant_id=evens.pk, location_id=popup.pk)
        ],
        source=Source.ADMIN,
    )
    make.stock(make.variant("FREE", tracked=False), wh, 0)  # untracked: neither

    def listed(status):
        url = reverse("admin:inventory_variant_changelist") + f"?stock={status}"
        page = superuser_client.get(url).content.decode()
        return {sku for sku in ("IN", "ZERO", "NO-LEVELS", "EVENS", "FREE") if f">{sku}<" in page}

    assert listed("out") == {"ZERO", "NO-LEVELS", "EVENS"}
    assert listed("in") == {"IN"}


# --------------------------------------------------------------------------- issue 13: catalog


def test_pages_are_titled_by_sku_and_location_code_never_by_id(superuser_client, shop):
    tee, wh, _ = shop
    level = StockLevel.objects.get(variant=tee, location=wh)
    page = superuser_client.get(
        reverse("admin:inventory_stocklevel_change", args=[level.pk])
    ).content.decode()
    assert "<title>View stock level | " not in page
    assert "TEE-M at WH1" in re.search(r"<title>(.*?)</title>", page).group(1)
    variant_page = superuser_client.get(
        reverse("admin:inventory_variant_change", args=[tee.pk])
    ).content.decode()
    assert "TEE-M" in re.search(r"<title>(.*?)</title>", variant_page).group(1)
    assert re.search(r"&rsaquo; TEE-M\s*</div>", variant_page)  # the breadcrumb
    adjust = superuser_client.get(adjust_url(tee)).content.decode()
    assert "Adjust stock: TEE-M" in adjust


def test_an_untracked_variant_reads_not_tracked_and_never_sorts_as_out_of_stock(
    superuser_client, shop, make
):
    _tee, wh, _ = shop
    gift = make.variant("GIFT-CARD", tracked=False)
    empty = make.variant("EMPTY-MUG")
    make.stock(empty, wh, 0)
    url = reverse("admin:inventory_variant_changelist")
    column = 3  # sku, name, available: the changelist's o= counts the checkbox column as 0
    ascending = superuser_client.get(url, {"o": column}).content.decode()
    skus = re.findall(r'class="field-sku"><a [^>]*>([^<]+)</a>', ascending)
    assert skus == ["EMPTY-MUG", "TEE-M", "GIFT-CARD"]
    row = re.search(r"GIFT-CARD.*?</tr>", ascending, re.S).group(0)
    assert 'class="field-available_total">not tracked<' in row
    page = superuser_client.get(
        reverse("admin:inventory_variant_change", args=[gift.pk])
    ).content.decode()
    assert "<td>not tracked</td>" in page


def test_the_stock_levels_filter_finds_what_is_at_or_below_0_per_location(
    superuser_client, shop, make
):
    _tee, wh, store = shop
    cap, gift = make.variant("CAP"), make.variant("GIFT-CARD", tracked=False)
    make.stock(cap, wh, 1, allocated=1)  # available 0
    make.stock(cap, store, 3)
    make.stock(gift, wh, 1, allocated=1)
    url = reverse("admin:inventory_stocklevel_changelist")
    page = superuser_client.get(url, {"available": "le0", "location__id__exact": wh.pk})
    rows = re.findall(r'class="field-variant_sku">(?:<a [^>]*>)+([^<]+)', page.content.decode())
    assert rows == ["CAP"]  # not TEE-M (10), not the untracked GIFT-CARD, not CAP at STORE
    html = page.content.decode()
    assert not re.search(r"<a [^>]*>\s*<a ", html)  # the SKU's link is not inside the row's
    variant = reverse("admin:inventory_variant_change", args=[cap.pk])
    assert f'class="field-variant_sku"><a href="{variant}">CAP</a>' in html


def test_a_blank_reason_is_refused_with_words_and_changes_nothing(clerk_client, shop):
    tee, wh, _ = shop
    for reason in ("", "   "):
        response = clerk_client.post(
            adjust_url(tee),
            {
                "apply": "1",
                "operation": "increment",
                "location": wh.pk,
                "quantity": 3,
                "reason": reason,
                **adjust_form(clerk_client, tee),
            },
        )
        assert response.status_code == 200
        assert "Give a reason: it is recorded on the movement" in response.content.decode()
    assert on_hand(tee, wh) == 10


def test_adjust_stock_needs_a_reason(shop):
    with pytest.raises(CommandError, match="--reason"):
        call_command("adjust_stock", "TEE-M", "WH1", "increment", "1")
    with pytest.raises(CommandError, match="give a --reason"):
        call_command("adjust_stock", "TEE-M", "WH1", "increment", "1", "--reason", "  ")
    assert Movement.objects.count() == 1  # the shop's own stock


def bulk_post(client, variants, quantities, **fields):
    data = {
        "action": "adjust_selected",
        "_selected_action": [v.pk for v in variants],
        "apply": "1",
        "token": "bulk-x",
        "reason": "weekly count",
        **{f"quantity_{v.pk}": q for v, q in zip(variants, quantities, strict=True)},
        **fields,
    }
    return client.post(reverse("admin:inventory_variant_changelist"), data)


def test_the_bulk_adjust_form_shows_each_variants_stock_per_location(clerk_client, shop, make):
    tee, _wh, store = shop
    cap = make.variant("CAP")
    make.stock(cap, store, 7, allocated=2)
    page = clerk_client.post(
        reverse("admin:inventory_variant_changelist"),
        {"action": "adjust_selected", "_selected_action": [tee.pk, cap.pk]},
    ).content.decode()
    cap_row = re.search(r'data-sku="CAP".*?</tr>', page, re.S).group(0)
    assert "5 available · 7 on hand, 2 allocated" in cap_row
    assert f'name="quantity_{cap.pk}"' in cap_row
    tee_row = re.search(r'data-sku="TEE-M".*?</tr>', page, re.S).group(0)
    assert "10 available · 10 on hand" in tee_row


def test_a_bad_line_in_the_bulk_adjust_is_named_and_nothing_is_applied(clerk_client, shop, make):
    tee, wh, _ = shop
    cap, mug = make.variant("CAP"), make.variant("MUG")
    make.stock(cap, wh, 2)
    response = bulk_post(
        clerk_client, [tee, cap, mug], [3, 5, ""], operation="decrement", location=wh.pk
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 line of 2 refused, nothing applied" in page
    cap_row = re.search(r'data-sku="CAP".*?</tr>', page, re.S).group(0)
    assert "CAP at WH1: insufficient stock: available 2, cannot decrement 5" in cap_row
    assert (on_hand(tee, wh), on_hand(cap, wh)) == (10, 2)

    response = bulk_post(
        clerk_client, [tee, cap, mug], [3, 2, ""], operation="decrement", location=wh.pk
    )
    assert response.status_code == 302
    assert (on_hand(tee, wh), on_hand(cap, wh), on_hand(mug, wh)) == (7, 0, 0)


def test_a_bulk_count_is_refused_as_stale_when_a_level_moved_since_the_form(clerk_client, shop):
    tee, wh, _ = shop
    page = clerk_client.post(
        reverse("admin:inventory_variant_changelist"),
        {"action": "adjust_selected", "_selected_action": [tee.pk]},
    ).content.decode()
    seen = re.search(r'name="seen" value="([^"]*)"', page).group(1)
    stock_apply(
        lines=[StockLine(action="decrement", quantity=2, variant_id=tee.pk, location_id=wh.pk)],
        source=Source.CHANNEL,
    )
    response = bulk_post(clerk_client, [tee], [10], operation="count", location=wh.pk, seen=seen)
    assert "stale: expected on hand 10 but it is 8 now" in response.content.decode()
    assert on_hand(tee, wh) == 8


def test_a_bulk_adjust_with_no_quantity_or_a_bad_one_says_so(clerk_client, shop, make):
    tee, wh, _ = shop
    cap = make.variant("CAP")
    page = bulk_post(clerk_client, [tee, cap], ["", ""], operation="increment", location=wh.pk)
    assert "Enter a quantity for at least one variant" in page.content.decode()
    page = bulk_post(clerk_client, [tee, cap], ["2", "lots"], operation="increment", location=wh.pk)
    assert "CAP: Enter a whole number." in page.content.decode()
    assert on_hand(tee, wh) == 10


def test_a_variants_history_shows_its_stock_movements(superuser_client, shop):
    tee, _wh, _ = shop
    page = superuser_client.get(
        reverse("admin:inventory_variant_history", args=[tee.pk])
    ).content.decode()
    assert "have a change history" not in page
    assert "1 stock movement" in page
    assert "Whole ledger of TEE-M" in page


def test_a_partial_movement_lists_its_refused_lines_in_words(superuser_client, shop, make):
    make.variant("CAP")
    result = stock_apply(
        lines=[
            StockLine(action="increment", quantity=5, sku="TEE-M", location="WH1"),
            StockLine(action="decrement", quantity=9, sku="CAP", location="WH1"),
        ],
        source=Source.COMMAND,
        partial=True,
        reason="count of the back room",
    )
    url = reverse("admin:inventory_movement_change", args=[result.movement.pk])
    html = superuser_client.get(url).content.decode()
    message = result.errors[0].message
    assert f"line 2, CAP at WH1: {message}" in html
    assert '"code"' not in html
    assert "insufficient_stock" not in html

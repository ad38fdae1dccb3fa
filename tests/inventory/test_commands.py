"""The management commands staff and cron use: adjust_stock, reverse_movement, check_ledger."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.models import Movement, StockLevel, Variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make):
    wh = make.location("WH1")
    store = make.location("STORE")
    tee = make.variant("TEE-M")
    make.stock(tee, wh, 10, allocated=1)
    return tee, wh, store


def run(*args):
    if args[0] == "adjust_stock" and "--reason" not in args:
        args = (*args, "--reason", "test")  # required (test_adjust_stock_needs_a_reason)
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_adjust_stock_prints_the_new_balances(shop):
    out = run("adjust_stock", "TEE-M", "WH1", "decrement", "4", "--reason", "breakage")
    assert "TEE-M at WH1: on hand 6, allocated 1, available 5" in out
    assert Movement.objects.first().reason == "breakage"
    assert Movement.objects.first().source == "command"


def test_adjust_stock_moves_and_prints_both_locations(shop):
    out = run("adjust_stock", "TEE-M", "WH1", "move", "3", "--to", "STORE")
    assert "TEE-M at WH1: on hand 7" in out
    assert "TEE-M at STORE: on hand 3, allocated 0, available 3" in out


def test_adjust_stock_refusal_exits_nonzero_with_the_reason(shop):
    with pytest.raises(CommandError, match="refused, nothing changed: TEE-M at WH1: insufficient"):
        run("adjust_stock", "TEE-M", "WH1", "decrement", "40")
    with pytest.raises(CommandError, match="unknown SKU 'NOPE'"):
        run("adjust_stock", "NOPE", "WH1", "increment", "1")
    with pytest.raises(CommandError, match="a move needs --to LOCATION"):
        run("adjust_stock", "TEE-M", "WH1", "move", "1")


def test_adjust_stock_key_and_expect(shop):
    run("adjust_stock", "TEE-M", "WH1", "increment", "2", "--key", "delivery-9")
    again = run("adjust_stock", "TEE-M", "WH1", "increment", "2", "--key", "delivery-9")
    assert "replay of an earlier request: nothing applied" in again
    assert StockLevel.objects.get(variant__sku="TEE-M", location__code="WH1").on_hand == 12
    with pytest.raises(CommandError, match="stale: expected on hand 10 but it is 12"):
        run("adjust_stock", "TEE-M", "WH1", "count", "5", "--expect", "10")


def test_adjust_stock_says_when_a_count_changes_nothing(shop):
    out = run("adjust_stock", "TEE-M", "WH1", "count", "10")
    assert "nothing to change: the count equals what is on hand" in out


def test_reverse_movement_undoes_it_once(shop):
    run("adjust_stock", "TEE-M", "WH1", "increment", "5")
    movement = Movement.objects.first()
    assert f"movement #{movement.pk} reversed by movement #" in run(
        "reverse_movement", str(movement.pk)
    )
    assert StockLevel.objects.get(variant__sku="TEE-M", location__code="WH1").on_hand == 10
    with pytest.raises(CommandError, match="already been reversed"):
        run("reverse_movement", str(movement.pk))
    with pytest.raises(CommandError, match="no movement #999999"):
        run("reverse_movement", "999999")


def test_check_ledger_passes_then_lists_every_level_that_differs(shop):
    tee, wh, _ = shop
    assert "ledger OK" in run("check_ledger")
    StockLevel.objects.filter(variant=tee, location=wh).update(on_hand=99)
    out = StringIO()
    with pytest.raises(CommandError, match="1 stock level"):
        call_command("check_ledger", stdout=out, stderr=out)
    assert "TEE-M at WH1: level on hand 99, allocated 1; ledger" in out.getvalue()


def test_load_demo_is_safe_to_run_again(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("load_demo")
    assert "demo login: admin / demo-" in first
    variants, ledger = Variant.objects.count(), Movement.objects.count()
    run("load_demo")
    assert (Variant.objects.count(), Movement.objects.count()) == (variants, ledger)
    assert "ledger OK" in run("check_ledger")

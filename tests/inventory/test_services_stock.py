"""The stock rules of DESIGN.md, each with the error a user sees."""

import pytest
from django.db import connection

from inventory.exceptions import (
    AlreadyReversed,
    IdempotencyConflict,
    LedgerImmutable,
    StockRefused,
)
from inventory.models import Movement, Source, StockLevel, StockTransaction
from inventory.selectors import ledger_mismatches
from inventory.services import StockLine, movement_reverse, stock_apply
from inventory.signals import stock_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make):
    wh = make.location("WH1")
    store = make.location("STORE", kind="store")
    tee = make.variant("TEE-M")
    return tee, wh, store


def level(variant, location):
    lv = StockLevel.objects.filter(variant=variant, location=location).first()
    return (lv.on_hand, lv.allocated, lv.available) if lv else (0, 0, 0)


def apply(*lines, **kwargs):
    kwargs.setdefault("source", Source.COMMAND)
    return stock_apply(lines=list(lines), **kwargs)


def line(action, qty, sku="TEE-M", loc="WH1", **kw):
    return StockLine(action=action, quantity=qty, sku=sku, location=loc, **kw)


# ---------------------------------------------------------------- the six actions


def test_increment_adds_to_on_hand_and_records_balances_after(shop):
    tee, wh, _ = shop
    result = apply(line("increment", 10), reason="PO 42 received", reference="PO-42")

    assert level(tee, wh) == (10, 0, 10)
    (tx,) = result.transactions
    assert (tx.action, tx.quantity, tx.on_hand_change, tx.on_hand_after) == (
        "increment",
        10,
        10,
        10,
    )
    assert result.movement.reason == "PO 42 received"
    assert result.movement.reference == "PO-42"
    assert result.movement.source == "command"


def test_decrement_needs_available_and_refusal_changes_nothing(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 5, allocated=2)

    with pytest.raises(StockRefused, match=r"TEE-M at WH1: insufficient stock: available 3"):
        apply(line("decrement", 4))

    assert level(tee, wh) == (5, 2, 3)
    apply(line("decrement", 3))
    assert level(tee, wh) == (2, 2, 0)


def test_allocate_needs_available(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 3)
    with pytest.raises(StockRefused, match="cannot allocate 4"):
        apply(line("allocate", 4))
    apply(line("allocate", 3))
    assert level(tee, wh) == (3, 3, 0)


def test_allocate_beyond_available_is_allowed_when_selling_out_of_stock(shop, make):
    tee, wh, _ = shop
    tee.allow_backorder = True
    tee.save()
    make.stock(tee, wh, 1)
    apply(line("allocate", 4))
    assert level(tee, wh) == (1, 4, -3)


def test_untracked_variant_never_runs_out(make):
    make.location("WH1")
    make.variant("EBOOK", tracked=False)
    apply(line("decrement", 7, sku="EBOOK"), line("allocate", 2, sku="EBOOK"))
    assert StockLevel.objects.get().on_hand == -7


def test_deallocate_needs_allocated(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 10, allocated=2)
    with pytest.raises(StockRefused, match="only 2 allocated, cannot deallocate 3"):
        apply(line("deallocate", 3))
    apply(line("deallocate", 2))
    assert level(tee, wh) == (10, 0, 10)


def test_move_is_one_atomic_pair_tied_by_a_group(shop, make):
    tee, wh, store = shop
    make.stock(tee, wh, 10)
    result = apply(line("move", 4, to_location="STORE"))

    assert level(tee, wh) == (6, 0, 6)
    assert level(tee, store) == (4, 0, 4)
    out, into = result.transactions
    assert (out.location_id, out.on_hand_change, into.location_id, into.on_hand_change) == (
        wh.pk,
        -4,
        store.pk,
        4,
    )
    assert out.group is not None
    assert out.group == into.group


def test_move_beyond_available_changes_neither_location(shop, make):
    tee, wh, store = shop
    make.stock(tee, wh, 2)
    with pytest.raises(StockRefused, match="insufficient stock: available 2, cannot move 3"):
        apply(line("move", 3, to_location="STORE"))
    assert level(tee, wh) == (2, 0, 2)
    assert level(tee, store) == (0, 0, 0)


def test_move_to_the_same_location_is_refused(shop):
    with pytest.raises(StockRefused, match="two different locations"):
        apply(line("move", 1, to_location="WH1"))


def test_count_sets_on_hand_and_the_ledger_records_the_difference(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 10)
    result = apply(line("count", 7))
    (tx,) = result.transactions
    assert (tx.quantity, tx.on_hand_change, tx.on_hand_after) == (7, -3, 7)
    apply(line("count", 0))
    assert level(tee, wh) == (0, 0, 0)


def test_a_count_that_matches_the_level_records_nothing(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 4)
    before = StockTransaction.objects.count()
    result = apply(line("count", 4), line("count", 0, loc="STORE"))
    assert result.movement is None
    assert StockTransaction.objects.count() == before


def test_count_cannot_be_negative(shop):
    with pytest.raises(StockRefused, match=r"a count cannot be negative \(got -1\)"):
        apply(line("count", -1))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("qty", [0, -3])
def test_quantity_must_be_positive(shop, qty):
    with pytest.raises(
        StockRefused, match=f"quantity must be at least 1 for increment \\(got {qty}\\)"
    ):
        apply(line("increment", qty))
    assert not StockTransaction.objects.exists()


@pytest.mark.parametrize("qty", [1.5, "3", True, None])
def test_quantity_must_be_a_whole_number(shop, qty):
    with pytest.raises(StockRefused, match="is not a whole number"):
        apply(line("increment", qty))


def test_unknown_sku_and_location_are_named(shop):
    with pytest.raises(StockRefused) as caught:
        apply(line("increment", 1, sku="NOPE"), line("increment", 1, loc="MARS"))
    messages = [str(e) for e in caught.value.errors]
    assert messages == ["line 1: unknown SKU 'NOPE'", "line 2: unknown location 'MARS'"]


def test_unknown_action_is_refused(shop):
    with pytest.raises(StockRefused, match="unknown action 'steal'"):
        apply(line("steal", 1))


def test_negative_location_lets_on_hand_go_below_zero(make):
    make.location("POPUP", allow_negative=True)
    make.variant("MUG")
    apply(line("decrement", 3, sku="MUG", loc="POPUP"))
    assert StockLevel.objects.get().on_hand == -3


# ---------------------------------------------------------------- batches


def test_a_batch_is_all_or_nothing_and_names_every_bad_line(shop, make):
    tee, wh, _ = shop
    make.variant("CAP")
    before = StockTransaction.objects.count()
    with pytest.raises(StockRefused) as caught:
        apply(
            line("increment", 5),
            line("decrement", 9, sku="CAP"),
            line("increment", 2, sku="GHOST"),
        )
    assert [(e.line, e.code) for e in caught.value.errors] == [
        (2, "insufficient_stock"),
        (3, "unknown_sku"),
    ]
    assert "2 lines refused, nothing applied" in str(caught.value)
    assert StockTransaction.objects.count() == before
    assert level(tee, wh) == (0, 0, 0)


def test_partial_mode_applies_valid_lines_and_reports_the_rest(shop, make):
    tee, wh, _ = shop
    make.variant("CAP")
    result = apply(
        line("increment", 5),
        line("decrement", 9, sku="CAP"),
        line("increment", 2, sku="CAP"),
        partial=True,
    )
    assert level(tee, wh) == (5, 0, 5)
    assert [(e.line, e.code, e.sku) for e in result.errors] == [(2, "insufficient_stock", "CAP")]
    assert result.movement.line_count == 2
    assert result.movement.failed_lines[0]["line"] == 2


def test_lines_of_a_batch_see_the_lines_before_them(shop):
    tee, wh, _ = shop
    apply(line("increment", 5), line("decrement", 5), line("increment", 1))
    assert level(tee, wh) == (1, 0, 1)


# ---------------------------------------------------------------- idempotency and CAS


def test_replayed_key_returns_the_first_result_and_applies_nothing(shop):
    tee, wh, _ = shop
    first = apply(line("increment", 5), key="po-7")
    again = apply(line("increment", 5), key="po-7")
    assert again.replayed
    assert again.movement.pk == first.movement.pk
    assert [t.pk for t in again.transactions] == [t.pk for t in first.transactions]
    assert level(tee, wh) == (5, 0, 5)
    assert Movement.objects.count() == 1


def test_same_key_with_another_payload_is_refused(shop):
    apply(line("increment", 5), key="po-7")
    with pytest.raises(
        IdempotencyConflict, match="'po-7' was already used for a different request"
    ):
        apply(line("increment", 6), key="po-7")


def test_stale_count_is_refused_instead_of_overwriting(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 10)
    apply(line("decrement", 1))  # a colleague sells one meanwhile
    with pytest.raises(StockRefused, match="stale: expected on hand 10 but it is 9 now"):
        apply(line("count", 12, expected=10))
    assert level(tee, wh) == (9, 0, 9)
    apply(line("count", 12, expected=9))
    assert level(tee, wh) == (12, 0, 12)


# ---------------------------------------------------------------- reversal


def test_a_movement_is_reversed_by_a_compensating_one(shop, make):
    tee, wh, store = shop
    make.stock(tee, wh, 10)
    done = apply(
        line("move", 4, to_location="STORE"), line("allocate", 1), line("count", 3, loc="STORE")
    )
    reversal = movement_reverse(movement=done.movement, source=Source.ADMIN)

    assert reversal.movement.reverses == done.movement
    assert level(tee, wh) == (10, 0, 10)
    assert level(tee, store) == (0, 0, 0)
    assert Movement.objects.filter(pk=done.movement.pk).exists()
    assert not ledger_mismatches()


def test_a_movement_is_reversed_once(shop):
    done = apply(line("increment", 2))
    movement_reverse(movement=done.movement, source=Source.ADMIN)
    with pytest.raises(AlreadyReversed, match=f"#{done.movement.pk} has already been reversed"):
        movement_reverse(movement=done.movement, source=Source.ADMIN)


def test_reversal_that_stock_no_longer_allows_changes_nothing(shop):
    tee, wh, _ = shop
    received = apply(line("increment", 5))
    apply(line("decrement", 4))
    with pytest.raises(StockRefused, match="insufficient stock: available 1, cannot decrement 5"):
        movement_reverse(movement=received.movement, source=Source.ADMIN)
    assert level(tee, wh) == (1, 0, 1)


# ---------------------------------------------------------------- the ledger


def test_ledger_rows_cannot_be_edited_or_deleted(shop):
    result = apply(line("increment", 2))
    tx = result.transactions[0]
    tx.quantity = 99
    with pytest.raises(LedgerImmutable):
        tx.save()
    with pytest.raises(LedgerImmutable):
        tx.delete()
    with pytest.raises(LedgerImmutable):
        StockTransaction.objects.filter(pk=tx.pk).update(quantity=99)
    with pytest.raises(LedgerImmutable):
        StockTransaction.objects.all().delete()
    with pytest.raises(LedgerImmutable):
        result.movement.delete()


def test_levels_always_equal_the_ledger(shop, make):
    tee, wh, _ = shop
    make.stock(tee, wh, 8, allocated=3)
    apply(
        line("move", 2, to_location="STORE"), line("deallocate", 1), line("count", 4, loc="STORE")
    )
    assert not ledger_mismatches()
    StockLevel.objects.filter(variant=tee, location=wh).update(on_hand=100)
    assert ledger_mismatches() == [(tee.pk, wh.pk, (100, 2), (6, 2), "sum of ledger changes")]


# ---------------------------------------------------------------- the signal


@pytest.mark.django_db(transaction=True)  # outside the service, no transaction is open
def test_stock_changed_is_sent_once_inside_the_transaction(shop):
    tee, wh, store = shop
    seen = []

    def receiver(sender, movement, pairs, variant_ids, location_ids, **kwargs):
        seen.append((connection.in_atomic_block, movement.pk, pairs, variant_ids, location_ids))

    stock_changed.connect(receiver, dispatch_uid="test-receiver")
    try:
        result = apply(line("increment", 3), line("move", 1, to_location="STORE"))
        with pytest.raises(StockRefused):
            apply(line("decrement", 100))
    finally:
        stock_changed.disconnect(dispatch_uid="test-receiver")

    assert seen == [
        (
            True,
            result.movement.pk,
            frozenset({(tee.pk, wh.pk), (tee.pk, store.pk)}),
            frozenset({tee.pk}),
            frozenset({wh.pk, store.pk}),
        )
    ]


def test_a_failing_receiver_rolls_the_change_back(shop):
    tee, wh, _ = shop

    def receiver(**kwargs):
        raise RuntimeError("pending mark could not be written")

    stock_changed.connect(receiver, dispatch_uid="failing-receiver")
    try:
        with pytest.raises(RuntimeError):
            apply(line("increment", 3))
    finally:
        stock_changed.disconnect(dispatch_uid="failing-receiver")
    assert level(tee, wh) == (0, 0, 0)
    assert not Movement.objects.exists()


def test_a_variant_or_location_with_history_cannot_be_deleted(shop):
    from django.db.models import ProtectedError

    tee, wh, _ = shop
    apply(line("increment", 1))
    with pytest.raises(ProtectedError):
        tee.delete()
    with pytest.raises(ProtectedError):
        wh.delete()

"""The quantity a channel shows: available at its locations, through its rules."""

from types import SimpleNamespace

import pytest

from connectors.quantities import channel_target


def rules(**kw):
    return SimpleNamespace(
        **{"buffer": 0, "percentage": None, "cap": None, "zero_out_threshold": 0, **kw}
    )


@pytest.mark.parametrize(
    ("kw", "available", "expected"),
    [
        ({}, [("WH1", 12), ("STORE", 3)], 15),
        ({"buffer": 2}, [("WH1", 12), ("STORE", 3)], 13),
        ({"buffer": 20}, [("WH1", 12)], 0),
        ({"percentage": 80}, [("WH1", 12)], 9),
        ({"cap": 5}, [("WH1", 12)], 5),
        ({"zero_out_threshold": 2}, [("WH1", 2)], 0),
        ({"zero_out_threshold": 2}, [("WH1", 3)], 3),
        ({}, [("WH1", -4), ("STORE", 3)], 0),
        ({}, [], 0),
        ({"buffer": 2, "percentage": 50, "cap": 4}, [("WH1", 20)], 4),
    ],
)
def test_rules_apply_in_order(kw, available, expected):
    assert channel_target(rules(**kw), tracked=True, available_by_location=available).quantity == (
        expected
    )


def test_untracked_variants_are_unlimited():
    target = channel_target(rules(buffer=3), tracked=False, available_by_location=[("WH1", 1)])
    assert target.quantity is None
    assert "untracked" in target.explanation


def test_the_explanation_reads_from_stock_to_the_number_shown():
    target = channel_target(
        rules(buffer=2, percentage=50),
        tracked=True,
        available_by_location=[("WH1", 12), ("STORE", 3)],
    )
    assert target.explanation == "available 12 at WH1 + 3 at STORE = 15 - buffer 2 = 13 x 50% = 6"

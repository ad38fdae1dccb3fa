"""The stock history chart: the ledger read as on hand per location, and the SVG drawn from it."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from inventory import selectors
from inventory.charts import Point, Series, step_chart
from inventory.models import Source
from inventory.services import StockLine, stock_apply

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def apply(variant, action, location, quantity, *, to=None, reason=""):
    line = StockLine(
        action=action,
        quantity=quantity,
        variant_id=variant.pk,
        location_id=location.pk,
        to_location_id=to.pk if to else None,
    )
    return stock_apply(lines=[line], source=Source.SYSTEM, reason=reason)


def history(variant, since=None, **kwargs):
    now = timezone.now()
    since = since or now - timedelta(days=90)
    return selectors.variant_stock_history(variant=variant, since=since, until=now, **kwargs)


def points(line):
    return [p.on_hand for p in line.points]


# ---------------------------------------------------------------- the ledger, read


@pytest.mark.django_db
def test_history_follows_counts_increments_and_moves_per_location(make):
    wh, store = make.location("WH1"), make.location("STORE")
    tee = make.variant()
    apply(tee, "count", wh, 10, reason="opening count")
    apply(tee, "increment", wh, 5, reason="delivery")
    apply(tee, "move", wh, 3, to=store, reason="restock the shop")
    apply(tee, "decrement", store, 1, reason="sold")
    apply(tee, "count", store, 7, reason="recount")

    result = history(tee)

    by_code = {line.location.code: line for line in result.lines}
    assert list(by_code) == ["STORE", "WH1"]
    # No start: both histories begin inside the window.
    assert (by_code["WH1"].start, points(by_code["WH1"]), by_code["WH1"].on_hand) == (
        None,
        [10, 15, 12],
        12,
    )
    assert (by_code["STORE"].start, points(by_code["STORE"]), by_code["STORE"].on_hand) == (
        None,
        [3, 2, 7],
        7,
    )
    assert [p.change for p in by_code["STORE"].points] == [3, -1, 5]
    assert [p.reason for p in by_code["WH1"].points] == [
        "opening count",
        "delivery",
        "restock the shop",
    ]
    assert not result.truncated


@pytest.mark.django_db
def test_allocations_leave_the_on_hand_line_alone(make):
    wh = make.location("WH1")
    tee = make.variant()
    make.stock(tee, wh, 10, allocated=4)
    apply(tee, "deallocate", wh, 1)

    (line,) = history(tee).lines

    assert points(line) == [10]


@pytest.mark.django_db
def test_changes_before_the_window_give_the_starting_balance_not_points(make):
    wh, store, old = make.location("WH1"), make.location("STORE"), make.location("OLD")
    tee = make.variant()
    apply(tee, "count", wh, 10)
    apply(tee, "increment", wh, 2)
    apply(tee, "count", old, 4)
    since = timezone.now()
    apply(tee, "decrement", wh, 5)
    apply(tee, "increment", store, 3)

    by_code = {line.location.code: line for line in history(tee, since=since).lines}

    assert (by_code["WH1"].start, points(by_code["WH1"])) == (12, [7])
    assert (by_code["STORE"].start, points(by_code["STORE"])) == (None, [3])
    assert (by_code["OLD"].start, points(by_code["OLD"])) == (4, [])  # a flat line


@pytest.mark.django_db
def test_more_changes_than_the_limit_shorten_the_window_to_the_newest(make):
    wh, store = make.location("WH1"), make.location("STORE")
    tee = make.variant()
    apply(tee, "count", wh, 10)
    apply(tee, "count", store, 1)
    for _ in range(4):
        apply(tee, "increment", wh, 1)  # 11, 12, 13, 14

    result = history(tee, limit=3)

    by_code = {line.location.code: line for line in result.lines}
    assert (by_code["WH1"].start, points(by_code["WH1"])) == (11, [12, 13, 14])
    assert (by_code["STORE"].start, points(by_code["STORE"])) == (1, [])
    assert result.truncated
    assert result.since == by_code["WH1"].points[0].when


@pytest.mark.django_db
def test_a_variant_without_ledger_has_no_history(make):
    make.location("WH1")
    assert history(make.variant()).lines == []


@pytest.mark.django_db
def test_the_history_costs_two_queries_however_long_the_ledger(make, django_assert_num_queries):
    locations = [make.location() for _ in range(4)]
    small, large = make.variant(), make.variant()
    apply(small, "count", locations[0], 1)
    for i in range(30):
        apply(large, "increment", locations[i % 4], 1)

    for variant in (small, large):
        with django_assert_num_queries(2):
            history(variant, limit=10)


# ---------------------------------------------------------------- the SVG


def draw(series, start=T0, end=T0 + timedelta(days=30), **kwargs):
    return step_chart(
        series, start=start, end=end, title="On hand", value_label="on hand", **kwargs
    )


def chart(series, **kwargs):
    return ET.fromstring(draw(series, **kwargs))  # well-formed XML, or this raises


def test_one_path_per_series_and_a_legend_with_each_last_value():
    series = [
        Series("WH1", 10, (Point(T0 + timedelta(days=2), 15), Point(T0 + timedelta(days=9), 12))),
        Series("STORE", 0, (Point(T0 + timedelta(days=9), 3),)),
        Series("OLD", 4),
    ]

    root = chart(series)

    assert len(root.findall(f".//{SVG}path")) == 3
    assert len(root.findall(f".//{SVG}circle")) == 3  # a dot per change
    legend = [t.text for t in root.find(f"{SVG}g[@class='legend']").iter(f"{SVG}text")]
    assert legend == ["WH1: 12", "STORE: 3", "OLD: 4"]
    colours = {g.get("fill") for g in root.findall(f"{SVG}g[@class='series']")}
    assert len(colours) == 3


def test_each_line_steps_from_its_start_and_is_held_to_the_end():
    root = chart([Series("WH1", 10, (Point(T0 + timedelta(days=15), 20),))])

    d = root.find(f".//{SVG}path").get("d")
    # From the left edge at 10, across to mid-chart, up to 20, across to the right edge.
    assert re.fullmatch(r"M52,[\d.]+H[\d.]+V[\d.]+H772", d)


def test_every_text_is_escaped():
    series = [Series("<&>", 1, (Point(T0 + timedelta(days=1), 2, note='"quoted" <b>'),))]

    svg = draw(series)
    root = ET.fromstring(svg)

    assert "<&>" not in svg
    assert "<b>" not in svg
    assert "&lt;&amp;&gt;: 2" in svg
    tip = root.find(f".//{SVG}circle/{SVG}title").text
    assert tip == '2 Mar 2025, 09:00 · <&> · on hand 2 · "quoted" <b>'


def test_the_title_and_description_name_the_chart_for_screen_readers():
    root = chart([Series("WH1", 10)])

    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "On hand"
    assert root.find(f"{SVG}desc").text == "WH1: on hand 10"


@pytest.mark.parametrize(
    ("span", "label"),
    [
        (timedelta(seconds=40), r"\d\d:\d\d:\d\d"),  # a fresh demo's seconds of history
        (timedelta(hours=6), r"\d\d:\d\d"),  # clock times
        (timedelta(days=30), r"[A-Z][a-z]{2} \d{1,2}"),  # dates: Mar 3
        (timedelta(days=700), r"[A-Z][a-z]{2}( \d{4})?"),  # months: Jan 2026, Mar
    ],
)
def test_time_labels_follow_the_span(span, label):
    root = chart([Series("WH1", 1)], end=T0 + span)

    labels = [t.text for t in root.find(f"{SVG}g[@class='time-axis']").iter(f"{SVG}text")]
    assert 2 <= len(labels) <= 8
    assert all(re.fullmatch(label, text) for text in labels), labels


def test_value_labels_are_round_and_include_zero_and_negatives():
    root = chart([Series("WH1", -3, (Point(T0 + timedelta(days=1), 47),))])

    labels = [t.text for t in root.find(f"{SVG}g[@class='value-axis']").iter(f"{SVG}text")]
    assert labels == ["-20", "0", "20", "40", "60"]


def test_times_are_labelled_in_the_given_time_zone():
    from zoneinfo import ZoneInfo

    root = chart(
        [Series("WH1", 1, (Point(T0 + timedelta(hours=1), 2),))],
        end=T0 + timedelta(hours=6),
        tz=ZoneInfo("Asia/Tokyo"),
    )

    assert root.find(f".//{SVG}circle/{SVG}title").text.startswith("1 Mar 2025, 19:00")


def test_the_value_axis_leaves_room_for_its_widest_label():
    # 1,000,000 units: a fixed margin cut the labels to "000,000" (issue 13).
    root = chart([Series("WH1", 10, (Point(T0 + timedelta(days=15), 1_000_000),))])

    labels = root.findall(f"{SVG}g[@class='value-axis']/{SVG}text")
    widest = max(len(t.text) for t in labels)
    assert widest >= len("1,000,000")
    x = float(labels[0].get("x"))  # right-aligned at x: the text starts at x - its width
    assert x - widest * 6.6 >= 0
    assert root.find(f".//{SVG}path").get("d").startswith(f"M{x + 6:g},")

"""The stock history on a variant's page: its ledger drawn as on hand over time, per location."""

from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from inventory import selectors
from inventory.charts import Point, Series, step_chart

# ?history=<key> on the variant's page; plain links, so the page needs no script.
RANGES = {
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
    "90d": ("90 days", timedelta(days=90)),
    "1y": ("1 year", timedelta(days=365)),
}
DEFAULT_RANGE = "90d"


def stock_history_html(request, variant):
    """The chart of the range the URL asks for, its caption and the links to the others;
    "No stock movements yet." for a variant without ledger."""
    key = request.GET.get("history")
    key = key if key in RANGES else DEFAULT_RANGE
    label, span = RANGES[key]
    now = timezone.now()
    history = selectors.variant_stock_history(variant=variant, since=now - span, until=now)
    context = {"history": history, "label": label, "limit": selectors.HISTORY_ROWS}
    if history.lines:
        since, context["first"] = _chart_start(history)
        svg = step_chart(
            [_series(line) for line in history.lines],
            start=since,
            end=history.until,
            title=f"On hand of {variant.sku} per location, last {label}",
            value_label="on hand",
            tz=timezone.get_current_timezone(),
            width=720,
            id_prefix="stock-history",
        )
        context["chart"] = mark_safe(svg)  # step_chart escapes every text it writes
        context["since"] = since
        context["changes"] = sum(len(line.points) for line in history.lines)
        context["ranges"] = [
            (other_label, _url(request, other), other == key)
            for other, (other_label, _) in RANGES.items()
        ]
    return render_to_string("admin/inventory/variant/stock_history.html", context)


def _chart_start(history):
    """Where the time axis starts; and the variant's first movement when it lies inside the
    window: the axis then starts just before it, instead of drawing months of nothing."""
    if history.truncated or any(line.start is not None for line in history.lines):
        return history.since, None
    first = min(p.when for line in history.lines for p in line.points)
    return first - max((history.until - first) / 50, timedelta(seconds=1)), first


def _series(line):
    """A location's line: its code, its balance at the start, and each change with its
    signed quantity and its movement's reason for the tooltip."""
    points = tuple(
        Point(p.when, p.on_hand, f"{p.change:+,}" + (f" · {p.reason}" if p.reason else ""))
        for p in line.points
    )
    return Series(line.location.code, line.start, points)


def _url(request, key):
    query = request.GET.copy()  # keeps the changelist's filters that the page carries
    query["history"] = key
    return f"?{query.urlencode()}#stock-history"

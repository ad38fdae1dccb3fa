"""Charts drawn on the server as inline SVG: no script, nothing fetched, so they work offline.

Pure functions: plain values in, an SVG string out, every piece of text escaped. Colours
that are not data (axes, labels, gridlines) are `currentColor`, so the chart follows the
page's light or dark theme.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from django.utils import formats

# Tableau 10: distinct hues that read on light and dark backgrounds alike. Past ten lines
# the colours repeat with a dash pattern, so no two lines look the same.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
DASHES = ("", "6 3", "2 3")

_MINUTE, _HOUR, _DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
_SUBDAY_STEPS = (
    *(_MINUTE / 60 * s for s in (1, 5, 10, 15, 30)),  # a history of seconds (a fresh demo)
    *(_MINUTE * m for m in (1, 5, 15, 30, 60, 180, 360, 720)),
)
_DAY_STEPS = (1, 2, 7, 14)
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60)
_CHAR_WIDTH = 6.6  # an 11px sans-serif character, on average: enough to lay out the legend


@dataclass(frozen=True)
class Point:
    when: datetime
    value: int
    note: str = ""  # appended to the point's tooltip


@dataclass(frozen=True)
class Series:
    """One line: its value at the chart's start (None: it begins at its first point), then
    each change, oldest first."""

    name: str
    start: int | None
    points: tuple[Point, ...] = ()

    @property
    def last(self):
        return self.points[-1].value if self.points else self.start


def step_chart(
    series,
    *,
    start,
    end,
    title,
    value_label="value",
    width=800,
    plot_height=220,
    tz=None,
    id_prefix="chart",
):
    """An SVG step chart of the series between two aware datetimes, each line held at its
    last value until `end`, with a legend (name and last value) and a tooltip per point."""
    tz = tz or start.tzinfo
    start, end = start.astimezone(tz), end.astimezone(tz)
    if end <= start:
        end = start + _MINUTE
    legend, legend_height = _legend(series, width, value_label)
    values = [v for s in series for v in (s.start, *(p.value for p in s.points)) if v is not None]
    y_ticks = _value_ticks(min([0, *values]), max([1, *values]))
    # Room for the widest value label ("1,000,000" is 9 characters) right-aligned before
    # the axis: a fixed margin cut the first digits off ("000,000").
    left = max(52, round(14 + max(len(_num(v)) for v in y_ticks) * _CHAR_WIDTH))
    right, top = 28, legend_height + 10
    box = _Box(left, top, width - left - right, plot_height, start, end, y_ticks[0], y_ticks[-1])
    id_prefix = escape(id_prefix)
    height = top + plot_height + 24
    description = "; ".join(f"{s.name}: {value_label} {_num(s.last or 0)}" for s in series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="step-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{id_prefix}-title {id_prefix}-desc" '
        'style="max-width: 100%; height: auto; font-size: 11px; '
        'color: var(--body-quiet-color, #666)">',
        f'<title id="{id_prefix}-title">{escape(title)}</title>',
        f'<desc id="{id_prefix}-desc">{escape(description)}</desc>',
        _grid(box, y_ticks),
        _time_axis(box, tz),
        *(_line(box, s, i, value_label, tz) for i, s in enumerate(series)),
        legend,
        "</svg>",
    ]
    return "\n".join(parts)


class _Box:
    """The plot area and the mapping of (time, value) into it."""

    def __init__(self, left, top, width, height, start, end, lo, hi):
        self.left, self.top, self.width, self.height = left, top, width, height
        self.start, self.end, self.lo, self.hi = start, end, lo, hi
        self._t0, self._span = start.timestamp(), end.timestamp() - start.timestamp()

    @property
    def bottom(self):
        return self.top + self.height

    @property
    def right(self):
        return self.left + self.width

    def x(self, when):
        share = (when.timestamp() - self._t0) / self._span
        return round(self.left + min(max(share, 0.0), 1.0) * self.width, 1)

    def y(self, value):
        return round(self.top + (self.hi - value) / (self.hi - self.lo) * self.height, 1)


def _stroke(index):
    """The nth line's colour, and its dash attribute once the palette has gone round."""
    dash = DASHES[index // len(PALETTE) % len(DASHES)]
    return PALETTE[index % len(PALETTE)], f' stroke-dasharray="{dash}"' if dash else ""


def _line(box, series, index, value_label, tz):
    colour, dash_attr = _stroke(index)
    points = series.points
    if series.start is not None:
        d = [f"M{box.left},{box.y(series.start)}"]
    elif points:
        d = [f"M{box.x(points[0].when)},{box.y(points[0].value)}"]
    else:
        return ""
    dots = []
    x = box.left
    for p in points:
        # Ledger times may step back a little between concurrent writers: never draw backwards.
        x = max(x, box.x(p.when))
        d.append(f"H{x}V{box.y(p.value)}")
        at = formats.date_format(p.when.astimezone(tz), "DATETIME_FORMAT")  # the site's one format
        tip = f"{at} · {series.name} · {value_label} {_num(p.value)}"
        if p.note:
            tip += f" · {p.note}"
        dots.append(
            f'<circle cx="{x}" cy="{box.y(p.value)}" r="3"><title>{escape(tip)}</title></circle>'
        )
    d.append(f"H{box.right}")
    return (
        f'<g class="series" fill="{colour}"><title>{escape(series.name)}</title>'
        f'<path d="{"".join(d)}" fill="none" stroke="{colour}" stroke-width="2"'
        f'{dash_attr} stroke-linejoin="round"/>{"".join(dots)}</g>'
    )


def _legend(series, width, value_label):
    """Entries (swatch, name, last value) in rows across the top; and the height they take."""
    entries, x, row = [], 0.0, 0
    for i, s in enumerate(series):
        text = f"{s.name}: {_num(s.last or 0)}"
        entry_width = 22 + len(text) * _CHAR_WIDTH + 18
        if x and x + entry_width > width - 8:
            x, row = 0.0, row + 1
        colour, dash_attr = _stroke(i)
        y = 10 + row * 18
        left = round(x + 8, 1)
        entries.append(
            f"<g><title>{escape(f'{s.name}: {value_label} {_num(s.last or 0)} now')}</title>"
            f'<line x1="{left}" x2="{left + 16}" y1="{y}" y2="{y}" stroke="{colour}" '
            f'stroke-width="3"{dash_attr}/><text x="{left + 22}" y="{y}" dy=".32em" '
            f'style="fill: var(--body-fg, #333)">{escape(text)}</text></g>'
        )
        x += entry_width
    if not entries:
        return "", 0
    return '<g class="legend">' + "".join(entries) + "</g>", 10 + row * 18 + 10


def _grid(box, ticks):
    lines = []
    for v in ticks:
        y = box.y(v)
        opacity = ".5" if v == 0 else ".18"
        lines.append(
            f'<line x1="{box.left}" x2="{box.right}" y1="{y}" y2="{y}" stroke="currentColor" '
            f'stroke-opacity="{opacity}"/><text x="{box.left - 6}" y="{y}" dy=".32em" '
            f'text-anchor="end" fill="currentColor">{_num(v)}</text>'
        )
    return '<g class="value-axis">' + "".join(lines) + "</g>"


def _time_axis(box, tz):
    ticks, label = _time_ticks(box.start, box.end, max(2, box.width // 90))
    parts = [
        f'<line x1="{box.left}" x2="{box.right}" y1="{box.bottom}" y2="{box.bottom}" '
        'stroke="currentColor" stroke-opacity=".5"/>'
    ]
    for t in ticks:
        x = box.x(t)
        anchor = "end" if box.right - x < 24 else "start" if x - box.left < 24 else "middle"
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{box.bottom}" y2="{box.bottom + 4}" '
            f'stroke="currentColor" stroke-opacity=".5"/><text x="{x}" y="{box.bottom + 16}" '
            f'text-anchor="{anchor}" fill="currentColor">{escape(label(t))}</text>'
        )
    return '<g class="time-axis">' + "".join(parts) + "</g>"


def _time_ticks(start, end, most):
    """Round times between start and end (at most `most` of them) and how to label them:
    clock times within a day or two, dates within months, months beyond."""
    span = end - start
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    for step in _SUBDAY_STEPS:
        if span // step + 1 <= most:  # the ticks at both ends included
            first = midnight + step * math.ceil((start - midnight) / step)
            return _every(first, end, step), _clock_label if step >= _MINUTE else _second_label
    for days in _DAY_STEPS:
        if span / (_DAY * days) <= most:
            first = midnight if midnight >= start else midnight + _DAY
            if days >= 7:  # weeks start on Monday
                first += _DAY * ((7 - first.weekday()) % 7)
            return _every(first, end, _DAY * days), _date_label
    months = span.days / 30.4
    step = next((m for m in _MONTH_STEPS if months / m <= most), _MONTH_STEPS[-1])
    ticks, month = [], start.year * 12 + start.month - 1
    while True:
        month += 1  # the first of the next month on or after start
        t = start.replace(
            year=month // 12,
            month=month % 12 + 1,
            day=1,
            hour=0,
            minute=0,
            second=0,
            microsecond=0,
        )
        if t > end:
            break
        if month % step == 0:
            ticks.append(t)
    return ticks, _month_label


def _every(first, end, step):
    ticks = []
    while first <= end:
        ticks.append(first)
        first += step
    return ticks


def _clock_label(t):
    return _date_label(t) if (t.hour, t.minute) == (0, 0) else f"{t:%H:%M}"


def _second_label(t):
    return f"{t:%H:%M:%S}"


def _date_label(t):
    return f"{t:%b} {t.day}"


def _month_label(t):
    return f"{t:%b %Y}" if t.month == 1 else f"{t:%b}"


def _value_ticks(lo, hi):
    """Round values from at or below lo to at or above hi, about five of them, 0 included."""
    raw = max((hi - lo) / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [int(k * step) for k in range(first, last + 1)]


def _num(value):
    return f"{value:,}"

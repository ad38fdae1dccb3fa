"""How the admin shows things people read: times in one format, long texts shortened with the
whole text one click away, quantities that may be "no limit" or "not tracked".

Used by every admin (inventory, connectors, the dashboard) and by the template tags in
inventory.templatetags.display, so that a state is put in the same words everywhere."""

from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import Truncator

CLIP = 120  # characters of a long text shown before "more"
NONE = "—"  # nothing there (never used for "no limit")


def when(moment, empty=NONE):
    """A datetime in the project's one format ("2 Dec 2026, 18:37"), in local time."""
    if moment is None:
        return empty
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "DATETIME_FORMAT")


def clipped(text, limit=CLIP, empty=NONE):
    """A text of any length as at most `limit` characters on the page; a longer one opens to
    its whole text in place (a <details> element: no script, works in every changelist cell)."""
    text = "" if text is None else str(text)
    if not text.strip():
        return empty
    one_line = " ".join(text.split())
    if len(one_line) <= limit:
        return format_html('<span class="clipped">{}</span>', one_line)
    short = Truncator(one_line).chars(limit)
    return format_html(
        '<details class="clipped"><summary>{}</summary><div class="clipped-whole">{}</div>'
        "</details>",
        short,
        text,
    )


def quantity(value, *, unlimited="no limit", empty=NONE):
    """A quantity where None means unlimited (a cap, a channel's untracked stock)."""
    if value is None:
        return unlimited
    return formats.number_format(value, force_grouping=True)

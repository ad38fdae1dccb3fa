"""The admin's words for times, long texts and quantities (inventory.display)."""

from datetime import UTC, datetime

from django.template import Context, Template

from inventory.display import clipped, quantity, when


def test_every_time_reads_in_one_format():
    moment = datetime(2026, 12, 2, 18, 37, tzinfo=UTC)
    assert when(moment) == "2 Dec 2026, 18:37"
    template = Template("{{ d|date:'DATETIME_FORMAT' }} {{ d|date }}")
    rendered = template.render(Context({"d": moment}))
    assert rendered == "2 Dec 2026, 18:37 2 Dec 2026"
    assert when(None) == "—"


def test_a_long_error_is_shortened_with_the_whole_text_one_click_away():
    error = "HTTP 503 from the channel: " + "<b>upstream</b> " * 50
    html = str(clipped(error, 40))
    assert html.startswith('<details class="clipped"><summary>HTTP 503 from the channel:')
    assert "&lt;b&gt;upstream&lt;/b&gt;" in html
    assert "<b>" not in html
    assert html.count("upstream") > 40  # the whole text, escaped, inside the details
    assert str(clipped("short")) == '<span class="clipped">short</span>'
    assert clipped("   ") == "—"


def test_unlimited_is_said_in_words_not_a_dash():
    assert quantity(None) == "no limit"
    assert quantity(0) == "0"
    assert quantity(12345) == "12,345"

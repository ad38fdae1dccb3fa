"""Counts in words for the import pages, commands and messages: "1 row", "2,000 rows"."""

from django.utils import formats
from django.utils.translation import ngettext


def counted(n, singular, plural):
    """`n` and the noun that agrees with it, the number grouped: counted(1, "row", "rows")."""
    number = formats.number_format(n, force_grouping=True)
    return ngettext("%(n)s " + singular, "%(n)s " + plural, n) % {"n": number}


def rows(n):
    return counted(n, "row", "rows")


def problems(n):
    return counted(n, "problem", "problems")

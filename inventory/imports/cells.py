"""Single cell values: cleaning what people type into spreadsheets, and neutralising what we
write into them.

A cleaner returns the value or raises CellError with a message that completes
"row N, column C, value V: ..." (so it names no row, column or value itself).
"""

# A cell starting with one of these is run as a formula by spreadsheet programs, even in a CSV
# file (OWASP "CSV injection"); tab and carriage return hide such a cell's real start.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off"})


class CellError(ValueError):
    """A value that cannot be used, with the reason a person can act on."""


def neutralise(value):
    """Prefix an apostrophe to text a spreadsheet would run as a formula (numbers are safe)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return NEUTRALISER + value
    return value


def text(value):
    """The cell as stripped text ('' for an empty cell), undoing our own neutralising."""
    if type(value) is not str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # an XLSX cell holding 12345 for a barcode comes back as 12345.0
        value = str(value)
    value = value.strip()
    if value[:1] == NEUTRALISER and value[1:2] and value[1] in "=+-@\t\r":
        value = value[1:].strip()
    return value


def is_blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def whole_number(value):
    """An integer from 12, 12.0, '12', ' +12 ', '-3' or '12.0'; a CellError otherwise."""
    if type(value) is str:
        try:
            return int(value)  # the usual cell: int() allows surrounding spaces and a sign
        except ValueError:
            pass
    if isinstance(value, bool):
        raise CellError("is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError("is not a whole number (quantities are whole units)")
    cleaned = text(value)
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        number = float(cleaned)
    except ValueError:
        number = None
    if number is not None and number.is_integer() and "." in cleaned:
        return int(number)
    if number is not None:
        raise CellError("is not a whole number (quantities are whole units)")
    if "," in cleaned or " " in cleaned:
        raise CellError("is not a whole number (write it without separators, e.g. 1000)")
    raise CellError("is not a whole number")


def within_limit(number, limit):
    """The number, if no more than `limit` units either way (STOCK_MAX_QUANTITY for stock)."""
    if -limit <= number <= limit:
        return number
    raise CellError(
        f"is beyond the limit of {limit:,} units a row (STOCK_MAX_QUANTITY): check it for a typo"
    )


def boolean(value):
    """True or False from yes/no, true/false, 1/0, x; a CellError otherwise."""
    if isinstance(value, bool):
        return value
    cleaned = text(value).lower()
    if cleaned in TRUE_WORDS:
        return True
    if cleaned in FALSE_WORDS:
        return False
    raise CellError("is not yes or no (use yes/no, true/false or 1/0)")

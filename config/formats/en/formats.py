"""One date and time format everywhere in the admin (issue 13): "2 Dec 2026, 18:37".

Django's own English formats ("Dec. 2, 2026, 6:37 p.m.") sat next to strftime's
"2026-12-02 18:37" on the same pages. Every page and message formats through these, by
`|date` in templates or inventory.display.when in Python."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d %b %Y", "%d/%m/%Y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d %b %Y, %H:%M"]
FIRST_DAY_OF_WEEK = 1

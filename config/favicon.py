"""The site's icon: every page's browser asks for /favicon.ico, and a 404 for it on each
page fills the logs. A 32 x 32 PNG (a box of stock on the admin's blue), made once."""

import struct
import zlib

from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

SIZE = 32
BLUE, PALE, WHITE = (0x41, 0x76, 0x90), (0xF5, 0xDD, 0x5D), (0xFF, 0xFF, 0xFF)


def _pixel(x, y):
    if 7 <= x <= 24 and 9 <= y <= 24:  # a box, its lid a band across
        return WHITE if 9 <= y <= 12 else PALE
    return BLUE


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png():
    rows = b"".join(b"\0" + b"".join(bytes(_pixel(x, y)) for x in range(SIZE)) for y in range(SIZE))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


ICON = png()


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    return HttpResponse(ICON, content_type="image/png")

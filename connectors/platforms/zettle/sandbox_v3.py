"""Zettle's v3 inventory reads for the sandbox (channels.md §5.4): GET /v3/inventories, GET
/v3/stock/{inventoryUuid} and GET /v3/stock/{inventoryUuid}/products/{productUuid}.

Every v3 list is paged by a `Link` header: while more rows follow, the answer carries
`Link: <...?cursor=...&limit=N>; rel="next"`, and a client follows it until it is absent.

Choices where channels.md marks a gap ([I]):
- `limit` is 1-1000, 100 by default; a cursor is opaque (the offset, base64url) and one
  that is not ours, or a bad limit, answers 400 with a violation naming the parameter.
- GET /v3/stock/{inventory} lists the non-zero balances of every tracked product there,
  by product then variant, as {productUuid, variantUuid, balance}.
"""

import base64
import binascii
from urllib.parse import urlencode

from connectors.platforms.sandbox.base import json_response
from connectors.platforms.zettle.sandbox_ledger import LOCATION_UUIDS, ZettleError, violation

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
STOCK_FIELDS = ("productUuid", "variantUuid", "balance")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, offset = text.partition(":")
        if kind == "o" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_parameter("cursor", "is not a cursor this API gave out")


def bad_parameter(name: str, message: str) -> ZettleError:
    return ZettleError(
        400, f"{name} {message}", "VALIDATION_ERROR", [violation(name, message, "INVALID")]
    )


def page(request, rows: list):
    """One page of `rows`, with the Link header to the next one while there is one."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise bad_parameter("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    limit = int(raw_limit)
    cursor = request.args.get("cursor")
    offset = decode_cursor(cursor) if cursor else 0
    response = json_response(rows[offset : offset + limit])
    if offset + limit < len(rows):
        args = {**request.args.to_dict(), "cursor": encode_cursor(offset + limit), "limit": limit}
        response.headers["Link"] = f'<{request.base_url}?{urlencode(args)}>; rel="next"'
    return response


class V3Reads:
    """The v3 reads, mixed into ZettleSandbox (self.ledger)."""

    def inventories_v3(self, request):
        rows = [
            {"inventoryUuid": u, "inventoryType": kind, "name": kind.title()}
            for kind, u in LOCATION_UUIDS.items()
        ]
        return page(request, rows)

    def stock_at_v3(self, request, location):
        self.ledger.location(location)
        return page(request, stock_rows(self.ledger.tracked_balances(location)))

    def stock_v3(self, request, location, product):
        self.ledger.location(location)
        self.ledger.require_tracked(product)
        return page(request, stock_rows(self.ledger.product_balances(location, product)))


def stock_rows(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in STOCK_FIELDS} for r in rows]

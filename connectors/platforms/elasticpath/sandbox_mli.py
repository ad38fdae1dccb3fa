"""Elastic Path's multi-location inventories (channels.md §4.3) for the sandbox: the calls
the basic API lacks. POST /v2/inventories creates a product's stock by location, PUT
/v2/inventories/{id} sets (or, with null, removes) its locations, and
/v2/inventories/locations[/{location_id}] is the locations' CRUD, listed with EP's links and
meta. The stock calls answer only with the header `EP-Inventories-Multi-Location: true` (the
basic API has no such calls: 400 naming the header); the locations answer with or without it.

Choices where channels.md marks a gap ([I]):
- A location's `available` given to create or update sets its bucket's available; its
  allocated units stay. null removes a location whose units are all available (422 when some
  are allocated). A slug that is no location is a 404 "No location found".
- A location's slug is unique (409); a location that holds stock cannot be deleted (409).
- The JSON:API `type` and the stock `id` in the body must match the call (400 naming them).
"""

import uuid

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.platforms.elasticpath.sandbox_orders import ep_error, validation_error
from connectors.platforms.elasticpath.sandbox_selling import page_of
from connectors.platforms.elasticpath.sandbox_stock import INSUFFICIENT, now_iso, stock_json
from connectors.platforms.sandbox.base import INVALID, Abort, json_response, parse_json

MLI_HEADER = "EP-Inventories-Multi-Location"
LOCATIONS = "/v2/inventories/locations"
MLI_RULES = (
    Rule("/v2/inventories", endpoint="create_located_stock", methods=["POST"]),
    Rule("/v2/inventories/<product_id>", endpoint="set_located_stock", methods=["PUT"]),
    Rule(LOCATIONS, endpoint="list_locations", methods=["GET"]),
    Rule(LOCATIONS, endpoint="create_location", methods=["POST"]),
    Rule(f"{LOCATIONS}/<location_id>", endpoint="get_location", methods=["GET"]),
    Rule(f"{LOCATIONS}/<location_id>", endpoint="update_location", methods=["PUT"]),
    Rule(f"{LOCATIONS}/<location_id>", endpoint="delete_location", methods=["DELETE"]),
)
TEXT_FIELDS = ("name", "slug", "external_ref", "description")


def is_mli(request) -> bool:
    return request.headers.get(MLI_HEADER, "").lower() == "true"


def location_json(location: dict) -> dict:
    attributes = {k: location[k] for k in (*TEXT_FIELDS, "address", "geolocation") if k in location}
    stamps = {k: location.get(k) or now_iso() for k in ("created_at", "updated_at")}
    return {
        "id": location["id"],
        "type": "inventory_location",
        "attributes": attributes,
        "meta": {"timestamps": stamps},
    }


def location_fields(data, partial: bool) -> dict:
    """A location's attributes from a create (partial=False) or an update body."""
    if not isinstance(data, dict) or data.get("type") != "inventory_location":
        raise validation_error('data.type must be "inventory_location"')
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise validation_error("data.attributes is required")
    fields = {}
    for name in TEXT_FIELDS:
        if name not in attributes:
            if name in ("name", "slug") and not partial:
                raise validation_error(f"data.attributes.{name} is required")
            continue
        value = attributes[name]
        if not isinstance(value, str) or not 1 <= len(value) <= 128:
            raise validation_error(f"data.attributes.{name} must be a string of 1-128 characters")
        fields[name] = value
    address = attributes.get("address")
    if address is not None:
        if not isinstance(address, list) or not all(isinstance(a, str) for a in address):
            raise validation_error("data.attributes.address must be a list of strings")
        fields["address"] = address
    geolocation = attributes.get("geolocation")
    if geolocation is not None:
        if not isinstance(geolocation, dict) or not all(
            type(geolocation.get(k)) in (int, float) for k in ("lat", "lon")
        ):
            raise validation_error("data.attributes.geolocation must be {lat, lon} numbers")
        fields["geolocation"] = {"lat": geolocation["lat"], "lon": geolocation["lon"]}
    return fields


def stock_body(request, product_id=None) -> tuple[str, dict]:
    """(product id, {slug: available or None}) of a create or an update of located stock."""
    body = parse_json(request)
    data = body.get("data") if isinstance(body, dict) else INVALID
    if not isinstance(data, dict) or data.get("type") != "stock":
        raise validation_error('data.type must be "stock"')
    stock_id = data.get("id", product_id)
    if not isinstance(stock_id, str) or not stock_id:
        raise validation_error("data.id must be the product's id")
    if product_id is not None and stock_id != product_id:
        raise validation_error(f"data.id {stock_id} is not the product of the path")
    attributes = data.get("attributes")
    located = attributes.get("locations", {}) if isinstance(attributes, dict) else INVALID
    if not isinstance(located, dict):
        raise validation_error("data.attributes.locations must be an object of slugs")
    levels = {}
    for slug, level in located.items():
        available = level.get("available") if isinstance(level, dict) else None
        if level is not None and (type(available) is not int or available < 0):
            raise validation_error(
                f"data.attributes.locations.{slug}.available must be an integer of at least 0"
            )
        levels[slug] = None if level is None else available
    return stock_id, levels


class MultiLocation:
    """The MLI calls, mixed into ElasticPathSandbox (self.stocks, guard, paging, find)."""

    def mli_only(self, request, write: bool = False) -> None:
        self.guard(request, write=write)
        if not is_mli(request):
            raise validation_error(f"this call needs the header {MLI_HEADER}: true")

    # --------------------------------------------------------- located stock
    def create_located_stock(self, request):
        self.mli_only(request, write=True)
        product_id, levels = stock_body(request)
        if product_id in self.stocks:
            raise Abort(ep_error(409, "Conflict", "Stock already exists for this product"))
        self.check_slugs(levels)
        stock = self.stocks.seed({"id": product_id})
        self.place(stock, levels)
        return json_response({"data": stock_json(product_id, stock, mli=True)}, 201)

    def set_located_stock(self, request, product_id: str):
        self.mli_only(request, write=True)
        stock = self.find(product_id)
        _, levels = stock_body(request, product_id)
        self.check_slugs(levels)
        for slug, available in levels.items():
            if available is None and stock["buckets"].get(slug, {}).get("allocated"):
                raise Abort(ep_error(422, "Cannot complete request", INSUFFICIENT))
        self.place(stock, levels)
        return json_response({"data": stock_json(product_id, stock, mli=True)})

    def check_slugs(self, levels: dict) -> None:
        if any(slug not in self.stocks.locations for slug in levels):
            raise Abort(ep_error(404, "Not Found", "No location found"))

    @staticmethod
    def place(stock: dict, levels: dict) -> None:
        buckets = stock["buckets"]
        for slug, available in levels.items():
            if available is None:
                buckets.pop(slug, None)
            else:
                allocated = buckets.get(slug, {}).get("allocated", 0)
                buckets[slug] = {"available": available, "allocated": allocated}
        stock["updated_at"] = now_iso()

    # -------------------------------------------------------------- locations
    def list_locations(self, request):
        self.guard(request)
        limit, offset = self.paging(request)
        rows = list(self.stocks.locations.values())
        return json_response(
            {
                "data": [location_json(loc) for loc in rows[offset : offset + limit]],
                **page_of(request, len(rows), limit, offset),
            }
        )

    def create_location(self, request):
        self.guard(request, write=True)
        body = parse_json(request)
        fields = location_fields(body.get("data") if isinstance(body, dict) else None, False)
        if fields["slug"] in self.stocks.locations:
            raise Abort(ep_error(409, "Conflict", f"A location with slug {fields['slug']} exists"))
        stamp = now_iso()
        location = {"id": str(uuid.uuid4()), **fields, "created_at": stamp, "updated_at": stamp}
        self.stocks.locations[fields["slug"]] = location
        return json_response({"data": location_json(location)}, 201)

    def get_location(self, request, location_id: str):
        self.guard(request)
        return json_response({"data": location_json(self.location_by_id(location_id))})

    def update_location(self, request, location_id: str):
        self.guard(request, write=True)
        location = self.location_by_id(location_id)
        body = parse_json(request)
        fields = location_fields(body.get("data") if isinstance(body, dict) else None, True)
        slug = fields.get("slug", location["slug"])
        if slug != location["slug"]:
            if slug in self.stocks.locations:
                raise Abort(ep_error(409, "Conflict", f"A location with slug {slug} exists"))
            if self.holds_stock(location["slug"]):
                raise Abort(ep_error(409, "Conflict", "The location holds stock"))
            self.stocks.locations[slug] = self.stocks.locations.pop(location["slug"])
        location.update(fields, updated_at=now_iso())
        return json_response({"data": location_json(location)})

    def delete_location(self, request, location_id: str):
        self.guard(request, write=True)
        location = self.location_by_id(location_id)
        if self.holds_stock(location["slug"]):
            raise Abort(ep_error(409, "Conflict", "The location holds stock"))
        del self.stocks.locations[location["slug"]]
        return Response(status=204)

    def location_by_id(self, location_id: str) -> dict:
        for location in self.stocks.locations.values():
            if location["id"] == location_id:
                return location
        raise Abort(ep_error(404, "Not Found", "No location found"))

    def holds_stock(self, slug: str) -> bool:
        return any(slug in stock["buckets"] for stock in self.stocks.values())

"""Tally's sandbox: levels by id, set absolutely (or compare-and-set), read by ids.

Default key "tally-key" (expire-tokens revokes it; a reset brings it back). Seed:
{"items": [{"id", "quantity"?, "unlimited"?}]}. A write line whose "expected" differs from
the level's quantity is refused with code "stale"; an unknown id "not_found"; a negative
quantity "invalid". Every error body is {"error": {"message"}}. Setting "moving": a sale
lands on a level just before each compare-and-set write, which is then always stale."""

from werkzeug.routing import Rule

from connectors.platforms.sandbox.base import Abort, Sandbox, json_response, parse_json

KEY = "tally-key"


def error(status, message, headers=None):
    return json_response({"error": {"message": message}}, status, headers)


class TallySandbox(Sandbox):
    platform = "tally"
    # moving: a sale lands on a level just before each compare-and-set write reaches it.
    default_settings = {"moving": False}
    rules = (
        Rule("/v1/levels", endpoint="get_levels", methods=["GET"]),
        Rule("/v1/levels", endpoint="set_levels", methods=["POST"]),
    )

    def reset_state(self):
        self.levels = {}
        self.tokens.add(KEY)

    def seed(self, body):
        for raw in body.get("items") or []:
            self.levels[str(raw["id"])] = {
                "quantity": int(raw.get("quantity") or 0),
                "unlimited": bool(raw.get("unlimited")),
            }

    def state_json(self):
        return {"platform": self.platform, "levels": self.levels}

    def handle(self, request, endpoint, args):
        if self.tokens.check(request.headers.get("X-Api-Key"))[1] != "ok":
            raise Abort(error(401, "unknown or revoked API key"))
        return super().handle(request, endpoint, args)

    def get_levels(self, request):
        ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        return json_response(
            {"levels": [{"id": i, **self.levels[i]} for i in ids if i in self.levels]}
        )

    def set_levels(self, request):
        body = parse_json(request)
        lines = body.get("levels") if isinstance(body, dict) else None
        if not isinstance(lines, list) or len(lines) > 50:
            raise Abort(error(400, "levels must be a list of at most 50"))
        return json_response({"results": [self._set(line) for line in lines]})

    def _set(self, line):
        level_id = str(line.get("id"))
        level = self.levels.get(level_id)
        if level is None:
            return {
                "id": level_id,
                "ok": False,
                "code": "not_found",
                "error": f"no level {level_id}",
            }
        if "expected" in line and self.settings["moving"] and level["quantity"] > 0:
            level["quantity"] -= 1
        if "expected" in line and line["expected"] != level["quantity"]:
            message = f"expected {line['expected']}, holds {level['quantity']}"
            return {"id": level_id, "ok": False, "code": "stale", "error": message}
        if line.get("unlimited"):
            level["unlimited"] = True
        else:
            quantity = line.get("quantity")
            if not isinstance(quantity, int) or quantity < 0:
                return {"id": level_id, "ok": False, "code": "invalid", "error": "bad quantity"}
            level.update(quantity=quantity, unlimited=False)
        return {"id": level_id, "ok": True, **level}

    def error_response(self, status, message):
        return error(status, message)

    def throttled_response(self, request):
        return error(429, "slow down", {"Retry-After": "2"})
